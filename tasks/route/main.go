// Command route is the state machine's Route task: it archives a bronze object and routes its rows to silver and discarded.
// It reads its configuration once at init (see pipeline.FromEnv) and runs
// pipeline.(*Pipeline).Route for each invocation, through Handler, which also
// publishes the task's metrics when LAKE_METRICS_NAMESPACE is set.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/medallionlake/lake/internal/pipeline"
)

func main() {
	lambda.Start(pipeline.MustFromEnv(pipeline.NeedsOf("route")).Handler("route"))
}
