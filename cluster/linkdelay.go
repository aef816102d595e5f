//go:build cluster

package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A linkDelay is tc netem's delay for kernels built without sch_netem (nor
// any qdisc that can hold a packet back): an iptables rule hands every
// packet a host receives on eth0 to a netfilter queue (NFQUEUE), and this
// process lets each one go d after it was queued, in order. The packets
// are the hosts' own, through their own TCP stacks; only their arrival
// waits, as on a link with latency d. It holds packets on their way in,
// not out: a packet held on its way out still counts against its socket's
// TCP Small Queues budget (about a millisecond of sending), which would cut
// a connection's throughput to that budget per delay; netem lets go of the
// socket for the same reason.
//
// It speaks nfnetlink_queue directly over github.com/mdlayher/netlink:
// the nfqueue client libraries are not served by this project's module
// proxy, and the part needed is three messages.
type linkDelay struct {
	conn    *netlink.Conn
	d       time.Duration
	delayed atomic.Int64 // packets let go after the delay
	wg      sync.WaitGroup
}

// nfnetlink_queue's constants (linux/netfilter/nfnetlink_queue.h).
const (
	nfnlSubsysQueue = 3

	nfqnlMsgPacket       = 0
	nfqnlMsgConfig       = 2
	nfqnlMsgVerdictBatch = 3

	nfqaPacketHdr  = 1
	nfqaVerdictHdr = 2

	nfqaCfgCmd      = 1
	nfqaCfgParams   = 2
	nfqaCfgQueueLen = 3
	nfqaCfgMask     = 4
	nfqaCfgFlags    = 5

	nfqnlCfgCmdBind = 1
	nfqnlCopyMeta   = 1 // the packet's id and metadata, none of its bytes

	nfqaCfgFFailOpen = 1 // a full queue lets packets through rather than drop them
	nfqaCfgFGSO      = 4 // queue GSO packets whole rather than segmented

	nfAccept = 1

	delayQueue    = 0 // the queue number, in each host's own namespace
	delayQueueLen = 20000
)

// addDelay delays by d every packet host ns receives on eth0.
func addDelay(ctx context.Context, ns string, d time.Duration) (*linkDelay, error) {
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return nil, err
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: int(f.Fd())})
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("nfnetlink in %s: %w", ns, err)
	}
	l := &linkDelay{conn: conn, d: d}
	if err := l.bind(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("binding the delay queue in %s: %w", ns, err)
	}
	// Bypass: a packet passes undelayed if the queue has no listener (as
	// after Close), rather than being dropped.
	if err := run(ctx, "ip", "netns", "exec", ns, "iptables", "-w", "-A", "INPUT", "-i", "eth0",
		"-j", "NFQUEUE", "--queue-num", fmt.Sprint(delayQueue), "--queue-bypass"); err != nil {
		conn.Close()
		return nil, err
	}
	queued := make(chan queuedPacket, delayQueueLen)
	l.wg.Go(func() { l.receive(queued) })
	l.wg.Go(func() { l.release(queued) })
	return l, nil
}

// bind takes the queue, copying packets' metadata only.
func (l *linkDelay) bind() error {
	cmd := netlink.NewAttributeEncoder()
	cmd.ByteOrder = binary.BigEndian
	cmd.Bytes(nfqaCfgCmd, []byte{nfqnlCfgCmdBind, 0, 0, 0}) // command, pad, pf
	params := netlink.NewAttributeEncoder()
	params.ByteOrder = binary.BigEndian
	params.Bytes(nfqaCfgParams, []byte{0, 0, 0, 0, nfqnlCopyMeta}) // copy range, copy mode
	params.Uint32(nfqaCfgQueueLen, delayQueueLen)
	params.Uint32(nfqaCfgMask, nfqaCfgFFailOpen|nfqaCfgFGSO)
	params.Uint32(nfqaCfgFlags, nfqaCfgFFailOpen|nfqaCfgFGSO)
	for _, ae := range []*netlink.AttributeEncoder{cmd, params} {
		attrs, err := ae.Encode()
		if err != nil {
			return err
		}
		if _, err := l.conn.Execute(l.message(nfqnlMsgConfig, netlink.Acknowledge, attrs)); err != nil {
			return err
		}
	}
	// Losing a packet's message to a full socket buffer loses no packet:
	// the batch verdict that follows lets it go too.
	return l.conn.SetOption(netlink.NoENOBUFS, true)
}

func (l *linkDelay) message(typ uint16, flags netlink.HeaderFlags, attrs []byte) netlink.Message {
	// nfgenmsg: family AF_UNSPEC, version 0, the queue number (big-endian).
	data := binary.BigEndian.AppendUint16([]byte{unix.AF_UNSPEC, 0}, delayQueue)
	return netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(nfnlSubsysQueue<<8 | typ), Flags: netlink.Request | flags},
		Data:   append(data, attrs...),
	}
}

type queuedPacket struct {
	id  uint32
	due time.Time
}

// receive reads each queued packet's id until the connection closes.
func (l *linkDelay) receive(queued chan<- queuedPacket) {
	defer close(queued)
	for {
		msgs, err := l.conn.Receive()
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				continue
			}
			return
		}
		now := time.Now()
		for _, m := range msgs {
			if m.Header.Type != netlink.HeaderType(nfnlSubsysQueue<<8|nfqnlMsgPacket) || len(m.Data) < 4 {
				continue
			}
			ad, err := netlink.NewAttributeDecoder(m.Data[4:])
			if err != nil {
				continue
			}
			for ad.Next() {
				if b := ad.Bytes(); ad.Type() == nfqaPacketHdr && len(b) >= 4 {
					queued <- queuedPacket{id: binary.BigEndian.Uint32(b), due: now.Add(l.d)}
				}
			}
		}
	}
}

// release lets each packet go once its delay has passed. Packets are
// queued with rising ids and one delay, so they fall due in order, and one
// batch verdict (every id up to the one given) lets go all that are due.
func (l *linkDelay) release(queued <-chan queuedPacket) {
	for p := range queued {
		time.Sleep(time.Until(p.due))
		last, n := p.id, int64(1)
	drain:
		for {
			select {
			case q, ok := <-queued:
				if !ok {
					break drain
				}
				if wait := time.Until(q.due); wait > 0 {
					l.accept(last)
					l.delayed.Add(n)
					time.Sleep(wait)
					n = 0
				}
				last = q.id
				n++
			default:
				break drain
			}
		}
		l.accept(last)
		l.delayed.Add(n)
	}
}

func (l *linkDelay) accept(id uint32) {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	ae.Bytes(nfqaVerdictHdr, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, nfAccept), id))
	attrs, err := ae.Encode()
	if err != nil {
		return
	}
	_, _ = l.conn.Send(l.message(nfqnlMsgVerdictBatch, 0, attrs))
}

// Delayed is how many packets were let go after the delay.
func (l *linkDelay) Delayed() int64 { return l.delayed.Load() }

// close stops delaying: the kernel lets the host's packets pass from now
// on (the rule's bypass), and drops those still queued.
func (l *linkDelay) close() {
	l.conn.Close()
	l.wg.Wait()
}
