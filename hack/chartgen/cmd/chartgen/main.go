// Command chartgen writes dist/chart from the kustomize sources (`make helm-chart`).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/contactsync/contactsync/hack/chartgen"
)

func main() {
	kustomize := flag.String("kustomize", "bin/kustomize", "The kustomize binary.")
	out := flag.String("out", "dist/chart", "Chart directory to (re)write.")
	flag.Parse()
	in, err := chartgen.Build(*kustomize, ".")
	if err == nil {
		var files map[string][]byte
		if files, err = chartgen.Generate(in); err == nil {
			err = chartgen.Write(*out, files)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartgen:", err)
		os.Exit(1)
	}
}
