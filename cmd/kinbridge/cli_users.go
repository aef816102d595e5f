package main

// `kinbridge whoami`: who the progress service takes the token's bearer
// for, and the children they follow (ProgressService.GetUser on users/me).
// It answers "why can't I see this child?" and "is this the admin token?"
// without decoding a JWT by hand.

import (
	"context"
	"fmt"
	"io"
	"strings"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
)

var whoamiCommand = subcommand{"whoami", "", "who your token says you are, and the children you follow", whoamiRun}

func whoamiRun(ctx context.Context, cmd *cmdline, args []string) error {
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 0); err != nil {
		return err
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	u, err := call(ctx, c, c.api.GetUser, &progressv1.GetUserRequest{Name: names.User{ID: names.Me}.String()})
	if err != nil {
		return err
	}
	return c.emit(u, func(w io.Writer) { userTable(w, u) })
}

// userTable shows the user, then a row per child they follow.
func userTable(w io.Writer, u *progressv1.User) {
	row(w, "User", strings.TrimPrefix(u.GetName(), "users/"))
	admin := "no"
	if u.GetAdministrator() {
		admin = "yes: may manage every child and guardianship"
	}
	row(w, "Administrator", admin)
	fmt.Fprintln(w)
	if len(u.GetChildren()) == 0 {
		fmt.Fprintln(w, "You follow no children: an administrator adds you with 'kinbridge guardians add'.")
		return
	}
	row(w, "CHILD", "NAME", "ROLE", "RELATION")
	for _, f := range u.GetChildren() {
		row(w, f.GetChild(), f.GetDisplayName(), enumWord(roleEnum, f.GetRole().Number()), f.GetRelation())
	}
	if u.GetChildrenTruncated() {
		fmt.Fprintf(w, "\nOnly the first %d are listed; 'kinbridge children list' lists them all.\n", len(u.GetChildren()))
	}
}
