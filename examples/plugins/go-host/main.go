// robodev-go-host: a plugin host built with robodev's Go SDK (sdk/go) on the real
// hashicorp/go-plugin client (v1.7.0, or v1.0.1 in its second build). It launches a ticketing or
// notifications plugin in any language, calls it, and prints what it got as JSON, so that the
// interop tests can check a non-Go plugin against a real go-plugin host. The plugin inherits
// this process's environment (its settings).
//
// Usage: robodev-go-host [-mtls] [-bench N] [-interface ticketing|notifications]
//
//	[-ticket ID] [-missing ID] PLUGIN_PATH
//
// Ticketing (the default) prints one JSON object on stdout, after polling (labels [robodev]),
// marking -ticket (T-1) in progress, commenting on it and marking -missing (nope) in progress,
// which must fail NOT_FOUND (the shared behaviour of examples/plugins/README.md):
//
//	{"handshake":{"interfaceVersion":1,"pluginName":"...","pluginVersion":"..."},
//	 "tickets":["T-1","T-2"],"firstRaw":{...},"notFound":"no ticket nope"}
//
// Notifications sends NotifyStart, NotifyComplete (a success) and Notify about ticket -ticket
// and prints {"handshake":{...},"sent":["NotifyStart","NotifyComplete","Notify"]}.
//
// -bench N prints one JSON object with the spawn-to-ready time and the median and mean
// durations of N sequential small (MarkInProgress) and N large (PollReadyTickets "bulk") calls.
//
// Any unexpected result: a message on stderr and exit status 1 (2 for a usage error). The
// plugin's logs are re-logged by go-plugin's hclog logger on stderr; its level is debug unless
// ROBODEV_GO_HOST_LOG_LEVEL says otherwise (trace, debug, info, warn, error, off).
//
// Built by scripts/build-go-plugins twice from this source: with go-plugin v1.7.0 (go.mod) and
// with v1.0.1 (go.mod plus a replace directive).
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	robodev "robodev.dev/sdk/go"
	pb "robodev.dev/sdk/go/robodevv1"
)

const (
	callTimeout  = 30 * time.Second
	benchTimeout = 10 * time.Minute
	bulkTickets  = 200
)

// client is the running plugin client, killed before every exit.
var client *plugin.Client

// fail reports an unexpected result, stops the plugin and exits with status 1.
func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "robodev-go-host: "+format+"\n", args...)
	if client != nil {
		client.Kill()
	}
	os.Exit(1)
}

// ---- JSON output ---------------------------------------------------------------------------

type handshakeOut struct {
	InterfaceVersion int32  `json:"interfaceVersion"`
	PluginName       string `json:"pluginName"`
	PluginVersion    string `json:"pluginVersion"`
}

type defaultOut struct {
	Handshake handshakeOut `json:"handshake"`
	Tickets   []string     `json:"tickets"`
	FirstRaw  interface{}  `json:"firstRaw"`
	NotFound  string       `json:"notFound"`
}

type notificationsOut struct {
	Handshake handshakeOut `json:"handshake"`
	Sent      []string     `json:"sent"`
}

type benchOut struct {
	SmallMedianNs  int64 `json:"smallMedianNs"`
	LargeMedianNs  int64 `json:"largeMedianNs"`
	SmallMeanNs    int64 `json:"smallMeanNs"`
	LargeMeanNs    int64 `json:"largeMeanNs"`
	N              int   `json:"n"`
	SpawnToReadyNs int64 `json:"spawnToReadyNs"`
}

// printJSON writes v as one line of JSON on stdout.
func printJSON(v interface{}) {
	line, err := json.Marshal(v)
	if err != nil {
		fail("encoding the output: %v", err)
	}
	fmt.Println(string(line))
}

// valueToJSON turns a protobuf Value into what encoding/json writes as the same JSON.
func valueToJSON(v *structpb.Value) interface{} {
	switch k := v.GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return nil
	case *structpb.Value_NumberValue:
		return k.NumberValue
	case *structpb.Value_StringValue:
		return k.StringValue
	case *structpb.Value_BoolValue:
		return k.BoolValue
	case *structpb.Value_StructValue:
		return structToJSON(k.StructValue)
	case *structpb.Value_ListValue:
		items := make([]interface{}, 0, len(k.ListValue.GetValues()))
		for _, item := range k.ListValue.GetValues() {
			items = append(items, valueToJSON(item))
		}
		return items
	default:
		fail("unknown google.protobuf.Value kind %T", k)
		return nil
	}
}

// structToJSON turns a protobuf Struct into a JSON object (null when unset).
func structToJSON(s *structpb.Struct) interface{} {
	if s == nil {
		return nil
	}
	m := make(map[string]interface{}, len(s.GetFields()))
	for k, v := range s.GetFields() {
		m[k] = valueToJSON(v)
	}
	return m
}

// ---- the checks ------------------------------------------------------------------------------

func withTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

func handshakeJSON(hs *pb.HandshakeResponse) handshakeOut {
	return handshakeOut{
		InterfaceVersion: hs.GetInterfaceVersion(),
		PluginName:       hs.GetPluginName(),
		PluginVersion:    hs.GetPluginVersion(),
	}
}

// runTicketing makes the fixed sequence of calls and prints what came back.
func runTicketing(tb pb.TicketingBackendClient, hs *pb.HandshakeResponse, ticket, missing string) {
	out := defaultOut{Handshake: handshakeJSON(hs), Tickets: []string{}}

	ctx, cancel := withTimeout()
	polled, err := tb.PollReadyTickets(ctx, &pb.PollReadyTicketsRequest{Labels: []string{"robodev"}})
	cancel()
	if err != nil {
		fail("PollReadyTickets{labels: [robodev]} failed: %v", err)
	}
	for _, t := range polled.GetTickets() {
		out.Tickets = append(out.Tickets, t.GetId())
	}
	if len(polled.GetTickets()) == 0 {
		fail("PollReadyTickets{labels: [robodev]} returned no tickets")
	}
	out.FirstRaw = structToJSON(polled.GetTickets()[0].GetRaw())

	ctx, cancel = withTimeout()
	_, err = tb.MarkInProgress(ctx, &pb.MarkInProgressRequest{TicketId: ticket})
	cancel()
	if err != nil {
		fail("MarkInProgress{ticket_id: %s} failed: %v", ticket, err)
	}

	ctx, cancel = withTimeout()
	_, err = tb.AddComment(ctx, &pb.AddCommentRequest{TicketId: ticket, Comment: "from a go-plugin host"})
	cancel()
	if err != nil {
		fail("AddComment{ticket_id: %s} failed: %v", ticket, err)
	}

	ctx, cancel = withTimeout()
	_, err = tb.MarkInProgress(ctx, &pb.MarkInProgressRequest{TicketId: missing})
	cancel()
	if err == nil {
		fail("MarkInProgress{ticket_id: %s} succeeded; expected a NOT_FOUND status", missing)
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.NotFound {
		fail("MarkInProgress{ticket_id: %s}: expected a NOT_FOUND status, got %v", missing, err)
	}
	out.NotFound = st.Message()

	printJSON(out)
}

// runNotifications tells the channel about a run of ticket, start to end.
func runNotifications(nc pb.NotificationChannelClient, hs *pb.HandshakeResponse, ticket string) {
	out := notificationsOut{Handshake: handshakeJSON(hs), Sent: []string{}}
	t := &pb.Ticket{Id: ticket, Title: "A ticket from a go-plugin host", Labels: []string{"robodev"}}
	calls := []struct {
		name string
		call func(context.Context) error
	}{
		{"NotifyStart", func(ctx context.Context) error {
			_, err := nc.NotifyStart(ctx, &pb.NotifyStartRequest{Ticket: t, TaskRunId: "run-go-1", Engine: "claude-code"})
			return err
		}},
		{"NotifyComplete", func(ctx context.Context) error {
			_, err := nc.NotifyComplete(ctx, &pb.NotifyCompleteRequest{Ticket: t, TaskRunId: "run-go-1",
				Result: &pb.TaskResult{Success: true, Summary: "done from a go-plugin host", MergeRequestUrl: "https://git.example/pr/1"}})
			return err
		}},
		{"Notify", func(ctx context.Context) error {
			_, err := nc.Notify(ctx, &pb.NotifyRequest{Message: "hello from a go-plugin host", Ticket: t})
			return err
		}},
	}
	for _, c := range calls {
		ctx, cancel := withTimeout()
		err := c.call(ctx)
		cancel()
		if err != nil {
			fail("%s about %s failed: %v", c.name, ticket, err)
		}
		out.Sent = append(out.Sent, c.name)
	}
	printJSON(out)
}

// median of the durations (sorts them).
func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	n := len(d)
	if n%2 == 1 {
		return d[n/2]
	}
	return (d[n/2-1] + d[n/2]) / 2
}

func mean(d []time.Duration) time.Duration {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

// runBench times n sequential small and n sequential large calls.
func runBench(tb pb.TicketingBackendClient, n int, spawnToReady time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
	defer cancel()
	small := &pb.MarkInProgressRequest{TicketId: "T-1"}
	large := &pb.PollReadyTicketsRequest{Labels: []string{"bulk"}}

	callSmall := func() {
		if _, err := tb.MarkInProgress(ctx, small); err != nil {
			fail("MarkInProgress{ticket_id: T-1} failed: %v", err)
		}
	}
	callLarge := func() {
		resp, err := tb.PollReadyTickets(ctx, large)
		if err != nil {
			fail("PollReadyTickets{labels: [bulk]} failed: %v", err)
		}
		if got := len(resp.GetTickets()); got != bulkTickets {
			fail("PollReadyTickets{labels: [bulk]} returned %d tickets, expected %d", got, bulkTickets)
		}
	}

	// Warm up both paths once.
	callSmall()
	callLarge()

	smallTimes := make([]time.Duration, n)
	for i := range smallTimes {
		start := time.Now()
		callSmall()
		smallTimes[i] = time.Since(start)
	}
	largeTimes := make([]time.Duration, n)
	for i := range largeTimes {
		start := time.Now()
		callLarge()
		largeTimes[i] = time.Since(start)
	}

	printJSON(benchOut{
		SmallMeanNs:    mean(smallTimes).Nanoseconds(),
		LargeMeanNs:    mean(largeTimes).Nanoseconds(),
		SmallMedianNs:  median(smallTimes).Nanoseconds(),
		LargeMedianNs:  median(largeTimes).Nanoseconds(),
		N:              n,
		SpawnToReadyNs: spawnToReady.Nanoseconds(),
	})
}

func main() {
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: robodev-go-host [-mtls] [-bench N] [-interface ticketing|notifications] [-ticket ID] [-missing ID] PLUGIN_PATH\n")
		flag.PrintDefaults()
	}
	mtls := flag.Bool("mtls", false, "use go-plugin's AutoMTLS and check that the connection is TLS")
	bench := flag.Int("bench", 0, "time N small and N large sequential calls instead of the default checks (ticketing)")
	iface := flag.String("interface", "ticketing", "the plugin's interface: ticketing or notifications")
	ticket := flag.String("ticket", "T-1", "the ticket to act on")
	missing := flag.String("missing", "nope", "a ticket id the plugin must answer NOT_FOUND for (ticketing)")
	flag.Parse()
	if flag.NArg() != 1 || *bench < 0 || (*iface != "ticketing" && *iface != "notifications") {
		flag.Usage()
		os.Exit(2)
	}
	pluginPath := flag.Arg(0)

	level := hclog.Debug
	if name := os.Getenv("ROBODEV_GO_HOST_LOG_LEVEL"); name != "" {
		if level = hclog.LevelFromString(strings.ToLower(name)); level == hclog.NoLevel {
			fmt.Fprintf(os.Stderr, "robodev-go-host: unknown ROBODEV_GO_HOST_LOG_LEVEL %q\n", name)
			os.Exit(2)
		}
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "robodev-go-host",
		Level:  level,
		Output: os.Stderr,
	})

	start := time.Now()
	client = robodev.NewClient(exec.Command(pluginPath), *mtls, logger)
	defer client.Kill()

	rpcClient, err := client.Client()
	if err != nil {
		fail("starting the plugin %s: %v", pluginPath, err)
	}
	key := robodev.TicketingKey
	if *iface == "notifications" {
		key = robodev.NotificationsKey
	}
	raw, err := rpcClient.Dispense(key)
	if err != nil {
		fail("dispensing %q: %v", key, err)
	}
	// Every robodev service has Handshake; ask it through the dispensed client.
	var handshake func(context.Context, *pb.HandshakeRequest, ...grpc.CallOption) (*pb.HandshakeResponse, error)
	var tb pb.TicketingBackendClient
	var nc pb.NotificationChannelClient
	switch c := raw.(type) {
	case pb.TicketingBackendClient:
		tb, handshake = c, c.Handshake
	case pb.NotificationChannelClient:
		nc, handshake = c, c.Handshake
	default:
		fail("dispensed %T, not a %s client", raw, *iface)
	}

	var p peer.Peer
	ctx, cancel := withTimeout()
	hs, err := handshake(ctx, &pb.HandshakeRequest{InterfaceVersion: 1}, grpc.Peer(&p))
	cancel()
	spawnToReady := time.Since(start)
	if err != nil {
		fail("Handshake{interface_version: 1} failed: %v", err)
	}
	if hs.GetInterfaceVersion() != 1 {
		fail("Handshake: the plugin implements interface version %d, expected 1", hs.GetInterfaceVersion())
	}
	if *mtls {
		info, isTLS := p.AuthInfo.(credentials.TLSInfo)
		if !isTLS {
			fail("-mtls: the connection to the plugin is not TLS (auth info %T)", p.AuthInfo)
		}
		if len(info.State.PeerCertificates) == 0 {
			fail("-mtls: the plugin presented no certificate")
		}
		logger.Info("connected with mTLS", "tls_version", fmt.Sprintf("%#04x", info.State.Version),
			"cipher_suite", tls.CipherSuiteName(info.State.CipherSuite),
			"plugin_cert_subject", info.State.PeerCertificates[0].Subject.String())
	}

	switch {
	case nc != nil:
		runNotifications(nc, hs, *ticket)
	case *bench > 0:
		runBench(tb, *bench, spawnToReady)
	default:
		runTicketing(tb, hs, *ticket, *missing)
	}
}
