// Command kinbridge-image builds Kinbridge's OCI image from a static
// linux/amd64 binary, without a container daemon (`make image` runs it):
//
//	kinbridge-image -binary bin/kinbridge-linux-amd64 -version v1.2.3 \
//	    -revision COMMIT -created UNIX-SECONDS \
//	    -tar bin/kinbridge-image.tar -oci bin/kinbridge-oci
//
// -tar writes a tarball for `docker load` / `podman load`; -oci an OCI
// image layout directory. It prints the image's digest.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kinbridge/kinbridge/deploy"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kinbridge-image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kinbridge-image", flag.ContinueOnError)
	binary := fs.String("binary", "", "static linux/amd64 kinbridge binary (CGO_ENABLED=0)")
	version := fs.String("version", "", "version label, as `git describe` prints it")
	revision := fs.String("revision", "", "commit id label")
	created := fs.Int64("created", 0, "creation time, Unix seconds (the commit's time keeps the image reproducible)")
	tarFile := fs.String("tar", "", "write a `docker load` tarball here")
	ociDir := fs.String("oci", "", "write an OCI image layout directory here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binary == "" || *version == "" || (*tarFile == "" && *ociDir == "") {
		return errors.New("need -binary, -version and -tar or -oci")
	}
	img, err := deploy.Build{Binary: *binary, Version: *version, Revision: *revision, Created: time.Unix(*created, 0).UTC()}.Image()
	if err != nil {
		return err
	}
	// A tag cannot hold '+' (git describe --dirty may not either way).
	tag := strings.ReplaceAll(*version, "+", "-")
	if *tarFile != "" {
		if err := deploy.WriteTarball(*tarFile, tag, img); err != nil {
			return err
		}
		fmt.Printf("%s: %s:%s and %s:latest (docker load -i %s)\n", *tarFile, deploy.ImageName, tag, deploy.ImageName, *tarFile)
	}
	if *ociDir != "" {
		if err := deploy.WriteLayout(*ociDir, tag, img); err != nil {
			return err
		}
		fmt.Printf("%s: OCI image layout\n", *ociDir)
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Println("digest:", digest)
	return nil
}
