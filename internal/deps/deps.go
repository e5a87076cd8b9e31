package deps
import (
 _ "github.com/jackc/pgx/v5"
 _ "github.com/apache/arrow-go/v18/parquet/pqarrow"
 _ "github.com/aws/aws-sdk-go-v2/config"
 _ "github.com/aws/aws-sdk-go-v2/credentials"
 _ "github.com/aws/aws-sdk-go-v2/service/s3"
 _ "github.com/aws/aws-sdk-go-v2/service/glue"
 _ "github.com/aws/aws-sdk-go-v2/service/athena"
 _ "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
 _ "github.com/aws/aws-lambda-go/lambda"
 _ "github.com/duckdb/duckdb-go/v2"
 _ "gopkg.in/yaml.v3"
)
