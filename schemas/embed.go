// Package schemas embeds the table contracts and DQDL rulesets of this
// folder, so that each Lambda binary carries the contracts it was built
// with. The lake command reads the folder named by --schemas instead.
package schemas

import "embed"

// FS holds every *.table.yaml and *.dqdl file of the schemas folder.
//
//go:embed *.table.yaml *.dqdl
var FS embed.FS
