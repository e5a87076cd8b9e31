// Command crawl is the state machine's Crawl task: it registers the routed object's tables and partitions in the Glue Data Catalog.
// It reads its configuration once at init (see pipeline.FromEnv) and runs
// pipeline.(*Pipeline).Crawl for each invocation, through Handler, which also
// publishes the task's metrics when LAKE_METRICS_NAMESPACE is set.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/medallionlake/lake/internal/pipeline"
)

func main() {
	lambda.Start(pipeline.MustFromEnv(pipeline.NeedsOf("crawl")).Handler("crawl"))
}
