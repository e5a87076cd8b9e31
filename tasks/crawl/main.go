// Command crawl is the state machine's Crawl task: it registers the routed object's tables and partitions in the Glue Data Catalog.
// It reads its configuration once at init (see pipeline.FromEnv) and runs
// its task (pipeline.Pipeline.Handler) for each invocation.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/medallionlake/lake/internal/pipeline"
)

func main() {
	lambda.Start(pipeline.MustFromEnv(pipeline.Needs{Catalog: true}).Handler("crawl"))
}
