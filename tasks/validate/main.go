// Command validate is the state machine's Validate task: it evaluates a bronze object's DQDL ruleset and returns the verdict.
// It reads its configuration once at init (see pipeline.FromEnv) and runs
// pipeline.(*Pipeline).Validate for each invocation, through Handler, which also
// publishes the task's metrics when LAKE_METRICS_NAMESPACE is set.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/medallionlake/lake/internal/pipeline"
)

func main() {
	lambda.Start(pipeline.MustFromEnv(pipeline.NeedsOf("validate")).Handler("validate"))
}
