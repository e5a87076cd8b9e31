// Command ingest is the state machine's Ingest task: it extracts one work item of a plan into bronze, or commits a plan's watermark.
// It reads its configuration once at init (see pipeline.FromEnv) and runs
// pipeline.(*Pipeline).Ingest for each invocation, through Handler, which also
// publishes the task's metrics when LAKE_METRICS_NAMESPACE is set.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/medallionlake/lake/internal/pipeline"
)

func main() {
	lambda.Start(pipeline.MustFromEnv(pipeline.NeedsOf("ingest")).Handler("ingest"))
}
