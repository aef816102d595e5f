package suite

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// ErrNoProc is returned where there is no /proc to read.
var ErrNoProc = errors.New("no /proc on this system")

// Self stands for this process in the readers below.
const Self = 0

func procPath(pid int, file string) string {
	if pid == Self {
		return "/proc/self/" + file
	}
	return fmt.Sprintf("/proc/%d/%s", pid, file)
}

// StatusBytes reads a "kB" field of /proc/<pid>/status, such as VmRSS (the
// resident set now) or VmHWM (its high-water mark), in bytes. It returns
// ErrNoProc where there is no /proc.
func StatusBytes(pid int, field string) (float64, error) {
	b, err := os.ReadFile(procPath(pid, "status"))
	if errors.Is(err, os.ErrNotExist) {
		if _, statErr := os.Stat("/proc/self/status"); statErr != nil {
			return 0, ErrNoProc
		}
	}
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseFloat(f[0], 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// ResetPeak resets a process's resident-set high-water mark (VmHWM) to its
// current resident set, by writing 5 to /proc/<pid>/clear_refs (Linux
// 4.0 and later, and only for a process this user may trace).
func ResetPeak(pid int) error {
	if err := os.WriteFile(procPath(pid, "clear_refs"), []byte("5"), 0); err != nil {
		return fmt.Errorf("resetting the peak RSS: %w", err)
	}
	return nil
}

// CPUSeconds is the user plus system CPU time a process has used so far,
// from /proc/<pid>/stat.
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(procPath(pid, "stat"))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields start
	// after its closing parenthesis, at field 3 (state).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseFloat(f[11], 64) // field 14
	stime, err2 := strconv.ParseFloat(f[12], 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (utime + stime) / clockTicks, nil
}

// clockTicks is USER_HZ, which is 100 on every Linux that Go supports.
const clockTicks = 100

// LoadAvg is the 1, 5 and 15 minute load average, or "?" without /proc.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// MemTotal is the machine's memory, as "23.5 GiB", or "?".
func MemTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
				return fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return "?"
}

// Kernel is the kernel release, or "?".
func Kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// Machine describes the machine in one line: OS, CPUs, memory, kernel,
// Go, and the load average now.
func Machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s RAM, kernel %s, %s, load average %s",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), MemTotal(), Kernel(), runtime.Version(), LoadAvg())
}
