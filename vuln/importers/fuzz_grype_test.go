package importers_test

import "testing"

func FuzzGrype(f *testing.F) {
	// Grype's samples carry kilobytes of image metadata per match.
	tgFuzz(f, "grype", "vuln/grype", []string{
		"matches", "vulnerability", "relatedVulnerabilities", "artifact", "source", "target", "userInput", "descriptor",
		"id", "severity", "description", "dataSource", "urls", "links", "cvss", "cvssV3", "version", "vector", "metrics",
		"baseScore", "fix", "versions", "fixedInVersion", "name", "type", "purl", "locations", "path",
	})
}
