// Command recordfailure is the state machine's RecordFailure task: it keeps a record of a failed execution under _meta/failures/.
// It reads its configuration once at init (see pipeline.FromEnv) and runs
// pipeline.(*Pipeline).RecordFailure for each invocation, through Handler, which also
// publishes the task's metrics when LAKE_METRICS_NAMESPACE is set.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/medallionlake/lake/internal/pipeline"
)

func main() {
	lambda.Start(pipeline.MustFromEnv(pipeline.NeedsOf("recordfailure")).Handler("recordfailure"))
}
