package media

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestServerStaysTransport holds server.go to what its name says: it turns
// requests into calls of Service methods and answers back, and never reaches
// through the Service into its parts (s.svc.store.X, s.svc.blobs.Y), which
// would put the service's work in the transport again.
func TestServerStaysTransport(t *testing.T) {
	fset := token.NewFileSet()
	path := filepath.Join(".", "server.go")
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		outer, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		field, ok := outer.X.(*ast.SelectorExpr) // <recv>.svc.<field>
		if !ok {
			return true
		}
		svc, ok := field.X.(*ast.SelectorExpr) // <recv>.svc
		if !ok || svc.Sel.Name != "svc" {
			return true
		}
		if _, ok := svc.X.(*ast.Ident); ok {
			t.Errorf("%s: the server reaches into its Service: .svc.%s.%s", fset.Position(outer.Pos()), field.Sel.Name, outer.Sel.Name)
		}
		return true
	})
}

// TestNoStoreTypeChecks holds the service to the blob.Store interface: no
// job or upload asks which store is behind it (a *blob.Local, an Adopter),
// so a new store needs no change here. blob.File and blob.PutFile are
// where a store's own abilities are used.
func TestNoStoreTypeChecks(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	isBlobType := func(e ast.Expr) bool {
		if star, ok := e.(*ast.StarExpr); ok {
			e = star.X
		}
		sel, ok := e.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		pkg, ok := sel.X.(*ast.Ident)
		return ok && pkg.Name == "blob"
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.TypeAssertExpr:
				if n.Type != nil && isBlobType(n.Type) {
					t.Errorf("%s: asks which blob store it has", fset.Position(n.Pos()))
				}
			case *ast.CaseClause:
				for _, e := range n.List {
					if isBlobType(e) {
						t.Errorf("%s: switches on which blob store it has", fset.Position(e.Pos()))
					}
				}
			}
			return true
		})
	}
}

// TestOneReceiveLoop: the bytes of every upload path (UploadMedia, a
// session's writes, and so tus and REST, which the gateway turns into
// those) are written to their upload file in one place, Service.receive,
// which hashes them on the way and checks size and type; and both the
// one-stream and the session path call it.
func TestOneReceiveLoop(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	writers := map[string]bool{} // functions writing an upload's file
	callers := map[string]bool{} // functions calling receive
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch sel.Sel.Name {
				case "receive":
					callers[fn.Name.Name] = true
				case "Write", "WriteAt", "ReadFrom", "WriteString":
					// u.f.WriteAt(...): the upload's file.
					if x, ok := sel.X.(*ast.SelectorExpr); ok && x.Sel.Name == "f" {
						writers[fn.Name.Name] = true
					}
				}
				return true
			})
		}
	}
	if len(writers) != 1 || !writers["receive"] {
		t.Errorf("upload files are written by %v, want only receive", writers)
	}
	for _, want := range []string{"uploadOnce", "writeSession"} {
		if !callers[want] {
			t.Errorf("%s does not call receive (callers: %v)", want, callers)
		}
	}
}
