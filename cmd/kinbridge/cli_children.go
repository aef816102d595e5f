package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// childrenCommands are `kinbridge children ...`.
var childrenCommands = []subcommand{
	{"create", "--name NAME [--birth-date YYYY-MM-DD] [--school S] [--grade G] [--time-zone ZONE]", "create a child (administrators)", childrenCreate},
	{"list", "", "list the children you may see", childrenList},
	{"get", "CHILD", "show a child", childrenGet},
	{"update", "CHILD [--name N] [--birth-date D] [--school S] [--grade G] [--time-zone Z] [--etag E]", "change the fields given (administrators)", childrenUpdate},
	{"delete", "CHILD [--etag E]", "delete a child and all recorded for it (administrators)", childrenDelete},
}

// guardiansCommands are `kinbridge guardians ...`.
var guardiansCommands = []subcommand{
	{"add", "CHILD --user USER --role guardian|contributor [--relation R]", "let a user follow a child (administrators)", guardiansAdd},
	{"list", "CHILD", "list who may follow a child", guardiansList},
	{"remove", "CHILD USER [--etag E]", "revoke a user's access (administrators)", guardiansRemove},
}

// childFlags are the editable fields of a child, by flag; create and
// update share them so both spell a field the same way.
type childFlags struct {
	displayName, birthDate, school, grade, timeZone string
}

// childFields maps each flag to the field it sets, in the order of the
// contract, for the update mask.
var childFields = []struct{ flag, field string }{
	{"name", "display_name"},
	{"birth-date", "birth_date"},
	{"school", "school"},
	{"grade", "grade_level"},
	{"time-zone", "time_zone"},
}

func (f *childFlags) define(cmd *cmdline) {
	cmd.local.StringVar(&f.displayName, "name", "", "the name shown to the family, for example Ada")
	cmd.local.StringVar(&f.birthDate, "birth-date", "", "date of birth, YYYY-MM-DD")
	cmd.local.StringVar(&f.school, "school", "", "the school the child attends")
	cmd.local.StringVar(&f.grade, "grade", "", `the grade or class, as the school names it ("3", "K", "Year 5")`)
	cmd.local.StringVar(&f.timeZone, "time-zone", "", "IANA time zone the child's dates are days in (default UTC), for example Europe/Lisbon")
}

func (f *childFlags) child() *progressv1.Child {
	return &progressv1.Child{DisplayName: f.displayName, BirthDate: f.birthDate, School: f.school, GradeLevel: f.grade, TimeZone: f.timeZone}
}

func childrenCreate(ctx context.Context, cmd *cmdline, args []string) error {
	var f childFlags
	f.define(cmd)
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 0); err != nil {
		return err
	}
	if err := required("name", f.displayName); err != nil {
		return err
	}
	if err := checkDate("birth-date", f.birthDate); err != nil {
		return err
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	child, err := call(ctx, c, c.api.CreateChild, &progressv1.CreateChildRequest{Child: f.child()})
	if err != nil {
		return err
	}
	return c.emit(child, func(w io.Writer) { childTable(w, child) })
}

func childrenList(ctx context.Context, cmd *cmdline, args []string) error {
	var pageSize int
	cmd.local.IntVar(&pageSize, "page-size", 1000, "how many children to fetch per call, 1 to 1000")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 0); err != nil {
		return err
	}
	if err := checkPageSize(pageSize); err != nil {
		return err
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	all, err := listAll(ctx, func(ctx context.Context, token string) ([]*progressv1.Child, string, error) {
		resp, err := call(ctx, c, c.api.ListChildren, &progressv1.ListChildrenRequest{PageSize: int32(pageSize), PageToken: token})
		return resp.GetChildren(), resp.GetNextPageToken(), err
	})
	if err != nil {
		return err
	}
	return c.emit(&progressv1.ListChildrenResponse{Children: all}, func(w io.Writer) {
		if len(all) == 0 {
			fmt.Fprintln(w, "No children you may see.")
			return
		}
		row(w, "NAME", "DISPLAY NAME", "BIRTH DATE", "SCHOOL", "GRADE", "TIME ZONE")
		for _, ch := range all {
			row(w, ch.GetName(), ch.GetDisplayName(), ch.GetBirthDate(), ch.GetSchool(), ch.GetGradeLevel(), ch.GetTimeZone())
		}
	})
}

func childrenGet(ctx context.Context, cmd *cmdline, args []string) error {
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	name, err := childName(args[0])
	if err != nil {
		return err
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	child, err := call(ctx, c, c.api.GetChild, &progressv1.GetChildRequest{Name: name})
	if err != nil {
		return err
	}
	return c.emit(child, func(w io.Writer) { childTable(w, child) })
}

func childrenUpdate(ctx context.Context, cmd *cmdline, args []string) error {
	var f childFlags
	var etag string
	f.define(cmd)
	cmd.local.StringVar(&etag, "etag", "", "change only if the child's etag is still this one (from children get)")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	name, err := childName(args[0])
	if err != nil {
		return err
	}
	// An empty update mask means "every field" to the service: an update
	// with no flags would clear whatever was not given. Name exactly the
	// fields given, and refuse to send none.
	var mask []string
	var flagNames []string
	for _, cf := range childFields {
		flagNames = append(flagNames, "--"+cf.flag)
		if cmd.given(cf.flag) {
			mask = append(mask, cf.field)
		}
	}
	if len(mask) == 0 {
		return usagef("nothing to update: give at least one of %s", strings.Join(flagNames, ", "))
	}
	if cmd.given("birth-date") {
		if err := checkDate("birth-date", f.birthDate); err != nil {
			return err
		}
	}
	child := f.child()
	child.Name = name
	child.Etag = etag
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	updated, err := call(ctx, c, c.api.UpdateChild, &progressv1.UpdateChildRequest{Child: child, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}})
	if err != nil {
		return err
	}
	return c.emit(updated, func(w io.Writer) { childTable(w, updated) })
}

func childrenDelete(ctx context.Context, cmd *cmdline, args []string) error {
	var etag string
	cmd.local.StringVar(&etag, "etag", "", "delete only if the child's etag is still this one")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	name, err := childName(args[0])
	if err != nil {
		return err
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	resp, err := call(ctx, c, c.api.DeleteChild, &progressv1.DeleteChildRequest{Name: name, Etag: etag})
	if err != nil {
		return err
	}
	return c.emit(resp, func(w io.Writer) {
		fmt.Fprintf(w, "Deleted %s and everything recorded for it.\n", name)
	})
}

// childTable shows one child, a field per line.
func childTable(w io.Writer, ch *progressv1.Child) {
	row(w, "Name", ch.GetName())
	row(w, "Display name", ch.GetDisplayName())
	row(w, "Birth date", ch.GetBirthDate())
	row(w, "School", ch.GetSchool())
	row(w, "Grade", ch.GetGradeLevel())
	row(w, "Time zone", ch.GetTimeZone())
	row(w, "Created", when(ch.GetCreateTime()))
	row(w, "Updated", when(ch.GetUpdateTime()))
	row(w, "Etag", ch.GetEtag())
}

var roleEnum = progressv1.Role(0).Descriptor()

func guardiansAdd(ctx context.Context, cmd *cmdline, args []string) error {
	var user, role, relation string
	cmd.local.StringVar(&user, "user", "", "the user's id: the sub of their token")
	cmd.local.StringVar(&role, "role", "", "guardian (may see) or contributor (may also record)")
	cmd.local.StringVar(&relation, "relation", "", `how the user relates to the child, for example "mother" or "teacher"`)
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	parent, err := childName(args[0])
	if err != nil {
		return err
	}
	if err := required("user", user); err != nil {
		return err
	}
	if strings.Contains(user, "/") {
		return usagef("--user %q: a user id has no /", user)
	}
	if err := required("role", role); err != nil {
		return fmt.Errorf("%w: one of %s", err, strings.Join(enumWords(roleEnum), ", "))
	}
	r, err := parseEnum(roleEnum, "role", role)
	if err != nil {
		return err
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	g, err := call(ctx, c, c.api.CreateGuardianship, &progressv1.CreateGuardianshipRequest{
		Parent:       parent,
		Guardianship: &progressv1.Guardianship{User: user, Role: progressv1.Role(r), Relation: relation},
	})
	if err != nil {
		return err
	}
	return c.emit(g, func(w io.Writer) {
		row(w, "Name", g.GetName())
		row(w, "User", g.GetUser())
		row(w, "Role", enumWord(roleEnum, g.GetRole().Number()))
		row(w, "Relation", g.GetRelation())
		row(w, "Since", when(g.GetCreateTime()))
		row(w, "Etag", g.GetEtag())
	})
}

func guardiansList(ctx context.Context, cmd *cmdline, args []string) error {
	var pageSize int
	cmd.local.IntVar(&pageSize, "page-size", 1000, "how many guardianships to fetch per call, 1 to 1000")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	parent, err := childName(args[0])
	if err != nil {
		return err
	}
	if err := checkPageSize(pageSize); err != nil {
		return err
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	all, err := listAll(ctx, func(ctx context.Context, token string) ([]*progressv1.Guardianship, string, error) {
		resp, err := call(ctx, c, c.api.ListGuardianships, &progressv1.ListGuardianshipsRequest{Parent: parent, PageSize: int32(pageSize), PageToken: token})
		return resp.GetGuardianships(), resp.GetNextPageToken(), err
	})
	if err != nil {
		return err
	}
	return c.emit(&progressv1.ListGuardianshipsResponse{Guardianships: all}, func(w io.Writer) {
		if len(all) == 0 {
			fmt.Fprintf(w, "No one but administrators may follow %s.\n", parent)
			return
		}
		row(w, "USER", "ROLE", "RELATION", "SINCE")
		for _, g := range all {
			row(w, g.GetUser(), enumWord(roleEnum, g.GetRole().Number()), g.GetRelation(), when(g.GetCreateTime()))
		}
	})
}

func guardiansRemove(ctx context.Context, cmd *cmdline, args []string) error {
	var etag string
	cmd.local.StringVar(&etag, "etag", "", "remove only if the guardianship's etag is still this one")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 2); err != nil {
		return err
	}
	parent, err := childName(args[0])
	if err != nil {
		return err
	}
	user := args[1]
	if user == "" || strings.Contains(user, "/") {
		return usagef("%q is not a user id", user)
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	name := parent + "/guardians/" + user
	resp, err := call(ctx, c, c.api.DeleteGuardianship, &progressv1.DeleteGuardianshipRequest{Name: name, Etag: etag})
	if err != nil {
		return err
	}
	return c.emit(resp, func(w io.Writer) {
		fmt.Fprintf(w, "Removed %s's access to %s.\n", user, parent)
	})
}

// checkPageSize keeps --page-size within what the service accepts.
func checkPageSize(n int) error {
	if n < 1 || n > 1000 {
		return fmt.Errorf("--page-size must be 1 to 1000, got %d", n)
	}
	return nil
}
