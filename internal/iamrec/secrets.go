package iamrec

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsAPI is the Secrets Manager call the pipeline makes
// (pipeline.SecretsClient).
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Secrets returns inner with every call logged to log as the IAM requests
// it makes of Secrets Manager in account a. kmsKey is the ARN of the
// customer-managed key of the secrets read; empty when they use the
// AWS-managed key aws/secretsmanager.
func Secrets(inner SecretsAPI, kmsKey string, a Account, log *Log) SecretsAPI {
	return &recSecrets{inner: inner, kmsKey: kmsKey, a: a, log: log}
}

type recSecrets struct {
	inner  SecretsAPI
	kmsKey string
	a      Account
	log    *Log
}

// GetSecretValue implements SecretsAPI.
func (s *recSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	id := aws.ToString(in.SecretId)
	s.log.record("secrets.GetSecretValue", id, names{secret: id, secretKey: s.kmsKey, region: s.a.Region})
	return s.inner.GetSecretValue(ctx, in, opts...)
}
