// Command maintain is the maintain state machine's task: it plans a maintenance of the lake's Iceberg tables, maintains one table (compaction, delete files folded, manifests merged, snapshots expired, orphans removed), or reports the results.
// It reads its configuration once at init (see pipeline.FromEnv) and runs
// pipeline.(*Pipeline).Maintain for each invocation, through Handler, which also
// publishes the task's metrics when LAKE_METRICS_NAMESPACE is set.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/medallionlake/lake/internal/pipeline"
)

func main() {
	lambda.Start(pipeline.MustFromEnv(pipeline.NeedsOf("maintain")).Handler("maintain"))
}
