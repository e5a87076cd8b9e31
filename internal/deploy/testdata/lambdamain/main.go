// Command lambdamain is the smallest Lambda function: the fixture that
// checks the deploy tests' build of a CodeUri.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context) error { return nil })
}
