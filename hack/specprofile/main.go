// Command specprofile prints the slowest Ginkgo specs of one or more JSON reports
// (-ginkgo.json-report) as a Markdown table, and the time per file, for docs/development.md.
//
//	go run ./hack/specprofile -top 15 a.json b.json
package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func main() {
	top := flag.Int("top", 15, "how many of the slowest specs to list")
	flag.Parse()
	type spec struct {
		name, where string
		took        time.Duration
	}
	var specs []spec
	perFile := map[string]time.Duration{}
	var suites time.Duration
	for _, path := range flag.Args() {
		b, err := os.ReadFile(path)
		if err != nil {
			fail(err)
		}
		var reports []types.Report
		if err := json.Unmarshal(b, &reports); err != nil {
			fail(fmt.Errorf("%s: %w", path, err))
		}
		for _, r := range reports {
			suites = max(suites, r.RunTime)
			for _, s := range r.SpecReports {
				if s.LeafNodeType != types.NodeTypeIt || s.State.Is(types.SpecStateSkipped) {
					continue
				}
				file := filepath.Base(s.LeafNodeLocation.FileName)
				perFile[file] += s.RunTime
				specs = append(specs, spec{
					name:  strings.Join(append(s.ContainerHierarchyTexts, s.LeafNodeText), " / "),
					where: fmt.Sprintf("%s:%d", file, s.LeafNodeLocation.LineNumber),
					took:  s.RunTime,
				})
			}
		}
	}
	slices.SortFunc(specs, func(a, b spec) int { return cmp.Compare(b.took, a.took) })
	var total time.Duration
	for _, s := range specs {
		total += s.took
	}
	fmt.Printf("%d specs, %.1f s of spec time; the longest suite process ran %.1f s\n\n", len(specs), total.Seconds(), suites.Seconds())
	fmt.Println("| s | spec | where |\n|---:|---|---|")
	for _, s := range specs[:min(*top, len(specs))] {
		fmt.Printf("| %.1f | %s | %s |\n", s.took.Seconds(), s.name, s.where)
	}
	files := make([]string, 0, len(perFile))
	for f := range perFile {
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b string) int { return cmp.Compare(perFile[b], perFile[a]) })
	fmt.Println("\n| s | file |\n|---:|---|")
	for _, f := range files {
		fmt.Printf("| %.1f | %s |\n", perFile[f].Seconds(), f)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "specprofile:", err)
	os.Exit(1)
}
