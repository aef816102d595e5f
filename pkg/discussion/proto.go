package discussion

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	discussionv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/discussion/v1"
)

// CommentProto is a stored comment on item as the contract has it.
func CommentProto(item Ref, c Comment) *discussionv1.Comment {
	return &discussionv1.Comment{
		Name:       CommentName{Item: item, ID: c.ID}.String(),
		Text:       c.Text,
		Author:     c.Author,
		CreateTime: timestamppb.New(c.CreateTime),
	}
}

// ReactionProto is a stored reaction to item as the contract has it.
func ReactionProto(item Ref, r Reaction) *discussionv1.Reaction {
	return &discussionv1.Reaction{
		Name:       ReactionName{Item: item, User: r.User}.String(),
		Kind:       discussionv1.ReactionKind(r.Kind),
		User:       r.User,
		CreateTime: timestamppb.New(r.CreateTime),
		UpdateTime: timestamppb.New(r.UpdateTime),
	}
}

// SummaryProto is a summary as the contract has it.
func SummaryProto(s Summary) *discussionv1.ReactionSummary {
	out := &discussionv1.ReactionSummary{MyKind: discussionv1.ReactionKind(s.Mine), CommentCount: int32(s.Comments)}
	for k := KindHeart; k <= maxKind; k++ {
		if s.Counts[k] > 0 {
			out.Counts = append(out.Counts, &discussionv1.ReactionCount{Kind: discussionv1.ReactionKind(k), Count: int32(s.Counts[k])})
		}
	}
	return out
}

// Emoji is how a notification shows a reaction kind.
func Emoji(k Kind) string {
	switch k {
	case KindHeart:
		return "❤️"
	case KindClap:
		return "👏"
	case KindStar:
		return "⭐"
	case KindLaugh:
		return "😄"
	case KindWow:
		return "😮"
	}
	return ""
}
