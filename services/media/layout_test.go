package media

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
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
