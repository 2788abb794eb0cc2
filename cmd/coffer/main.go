// Command coffer is a private container registry with Amazon ECR's access control.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "coffer: under construction")
	os.Exit(1)
}
