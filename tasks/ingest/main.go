// Command ingest is the state machine's Ingest task: it extracts one work item of a plan into bronze, or commits a plan's watermark.
// It reads its configuration once at init (see pipeline.FromEnv) and runs
// its task (pipeline.Pipeline.Handler) for each invocation.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/medallionlake/lake/internal/pipeline"
)

func main() {
	lambda.Start(pipeline.MustFromEnv(pipeline.Needs{Source: true}).Handler("ingest"))
}
