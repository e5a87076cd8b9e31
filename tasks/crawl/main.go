// Command crawl is the state machine's Crawl task, the commit: it commits
// the data files that the route record lists to the Iceberg tables (their
// pointers in the Glue Data Catalog), registers the meta tables, then
// deletes the object from bronze.
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
