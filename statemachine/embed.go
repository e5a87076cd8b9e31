// Package statemachine embeds the state machine definitions that SAM
// deploys (template.yaml's DefinitionUri), so the lake command runs the
// very same file with the local interpreter.
package statemachine

import _ "embed"

// Pipeline is statemachine/pipeline.asl.json, with its ${...}
// placeholders (template.yaml's DefinitionSubstitutions) not substituted.
//
//go:embed pipeline.asl.json
var Pipeline []byte

// Maintain is statemachine/maintain.asl.json, the maintenance of the
// lake's Iceberg tables, with its ${...} placeholders not substituted.
//
//go:embed maintain.asl.json
var Maintain []byte
