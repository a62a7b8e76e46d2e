// robodev-plugin-go-ticketing: a RoboDev ticketing plugin written with robodev's Go SDK
// (sdk/go) on the real hashicorp/go-plugin, serving robodev.v1.TicketingBackend over gRPC.
//
// It implements exactly the shared behaviour described in examples/plugins/README.md, so that
// the interop tests can run the same checks against the Go, Python and Rust plugins.
//
// Built by scripts/build-go-plugins twice from this source: with go-plugin v1.7.0 (go.mod) and
// with v1.0.1 (go.mod plus a replace directive).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	robodev "robodev.dev/sdk/go"
	pb "robodev.dev/sdk/go/robodevv1"
)

const (
	pluginName    = "go-ticketing"
	pluginVersion = "1.0.0"
	repoURL       = "https://git.example.com/acme/app.git"
	trackerURL    = "https://tracker.example.com/"
	bulkCount     = 200
	bulkDescLen   = 512
)

// ---- the data ------------------------------------------------------------------------------

// toValue converts a value decoded by encoding/json into a protobuf Value.
func toValue(v interface{}) *structpb.Value {
	switch x := v.(type) {
	case nil:
		return &structpb.Value{Kind: &structpb.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}
	case bool:
		return &structpb.Value{Kind: &structpb.Value_BoolValue{BoolValue: x}}
	case float64:
		return &structpb.Value{Kind: &structpb.Value_NumberValue{NumberValue: x}}
	case int:
		return &structpb.Value{Kind: &structpb.Value_NumberValue{NumberValue: float64(x)}}
	case string:
		return &structpb.Value{Kind: &structpb.Value_StringValue{StringValue: x}}
	case []interface{}:
		list := &structpb.ListValue{Values: make([]*structpb.Value, 0, len(x))}
		for _, item := range x {
			list.Values = append(list.Values, toValue(item))
		}
		return &structpb.Value{Kind: &structpb.Value_ListValue{ListValue: list}}
	case map[string]interface{}:
		return &structpb.Value{Kind: &structpb.Value_StructValue{StructValue: toStruct(x)}}
	default:
		panic(fmt.Sprintf("unsupported raw value %T", v))
	}
}

// toStruct converts a JSON object decoded by encoding/json into a protobuf Struct.
func toStruct(m map[string]interface{}) *structpb.Struct {
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(m))}
	for k, v := range m {
		s.Fields[k] = toValue(v)
	}
	return s
}

// rawFromJSON parses a JSON object literal into a protobuf Struct.
func rawFromJSON(text string) *structpb.Struct {
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		panic(err)
	}
	return toStruct(m)
}

func baseTicket(id, title, description, ticketType string, labels []string, raw *structpb.Struct) *pb.Ticket {
	return &pb.Ticket{
		Id:          id,
		Title:       title,
		Description: description,
		TicketType:  ticketType,
		Labels:      labels,
		RepoUrl:     repoURL,
		ExternalUrl: trackerURL + id,
		Raw:         raw,
	}
}

// baseTickets are the three tickets every test plugin knows, in order.
var baseTickets = []*pb.Ticket{
	baseTicket("T-1", "Fix login bug", "Users cannot log in with SSO.", "bug_fix",
		[]string{"robodev", "backend"},
		rawFromJSON(`{"priority":"high","points":3,"nested":{"ok":true},"tags":["a","b"],"none":null}`)),
	baseTicket("T-2", "Update README", "The install section is out of date.", "documentation",
		[]string{"robodev", "docs"}, rawFromJSON(`{"priority":"low"}`)),
	baseTicket("T-3", "Refactor billing", "Split the billing module.", "refactor",
		[]string{"backend"}, nil),
}

// bulkTickets are the 200 generated tickets returned when the labels contain "bulk". They are
// made once: responses are only read (serialised), never modified.
var bulkTickets = func() []*pb.Ticket {
	description := strings.Repeat("x", bulkDescLen)
	tickets := make([]*pb.Ticket, 0, bulkCount)
	for i := 0; i < bulkCount; i++ {
		id := "B-" + strconv.Itoa(i)
		tickets = append(tickets, &pb.Ticket{
			Id:          id,
			Title:       "Bulk " + strconv.Itoa(i),
			Description: description,
			TicketType:  "bulk",
			Labels:      []string{"bulk"},
			RepoUrl:     repoURL,
			ExternalUrl: trackerURL + id,
			Raw:         toStruct(map[string]interface{}{"index": i}),
		})
	}
	return tickets
}()

// hasAll reports whether labels contains every one of wanted.
func hasAll(labels, wanted []string) bool {
	for _, w := range wanted {
		found := false
		for _, l := range labels {
			if l == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// ---- the service -----------------------------------------------------------------------------

type ticketing struct {
	pb.UnimplementedTicketingBackendServer
	logger hclog.Logger
}

func (t *ticketing) Handshake(ctx context.Context, req *pb.HandshakeRequest) (*pb.HandshakeResponse, error) {
	return &pb.HandshakeResponse{
		InterfaceVersion: 1,
		PluginName:       pluginName,
		PluginVersion:    pluginVersion,
	}, nil
}

func (t *ticketing) PollReadyTickets(ctx context.Context, req *pb.PollReadyTicketsRequest) (*pb.PollReadyTicketsResponse, error) {
	var tickets []*pb.Ticket
	if contains(req.Labels, "bulk") {
		tickets = bulkTickets
	} else {
		for _, ticket := range baseTickets {
			if hasAll(ticket.Labels, req.Labels) {
				tickets = append(tickets, ticket)
			}
		}
	}
	if req.MaxResults > 0 && int(req.MaxResults) < len(tickets) {
		tickets = tickets[:req.MaxResults]
	}
	t.logger.Info("polled tickets", "count", len(tickets))
	return &pb.PollReadyTicketsResponse{Tickets: tickets}, nil
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

// known returns nil for the base ticket ids, INVALID_ARGUMENT for an empty one and NOT_FOUND
// for anything else.
func known(id string) error {
	if id == "" {
		return status.Error(codes.InvalidArgument, "ticket_id is empty")
	}
	for _, ticket := range baseTickets {
		if ticket.Id == id {
			return nil
		}
	}
	return status.Error(codes.NotFound, "no ticket "+id)
}

func (t *ticketing) MarkInProgress(ctx context.Context, req *pb.MarkInProgressRequest) (*pb.MarkInProgressResponse, error) {
	if err := known(req.TicketId); err != nil {
		return nil, err
	}
	return &pb.MarkInProgressResponse{}, nil
}

func (t *ticketing) MarkComplete(ctx context.Context, req *pb.MarkCompleteRequest) (*pb.MarkCompleteResponse, error) {
	if err := known(req.TicketId); err != nil {
		return nil, err
	}
	return &pb.MarkCompleteResponse{}, nil
}

func (t *ticketing) MarkFailed(ctx context.Context, req *pb.MarkFailedRequest) (*pb.MarkFailedResponse, error) {
	if err := known(req.TicketId); err != nil {
		return nil, err
	}
	return &pb.MarkFailedResponse{}, nil
}

func (t *ticketing) AddComment(ctx context.Context, req *pb.AddCommentRequest) (*pb.AddCommentResponse, error) {
	if req.Comment == "chaos:sleep" {
		// A plugin that stops answering (the host's tests kill robodev meanwhile).
		time.Sleep(time.Hour)
	}
	if err := known(req.TicketId); err != nil {
		return nil, err
	}
	return &pb.AddCommentResponse{}, nil
}

func main() {
	// Trace: the tests see every line the host re-logs.
	logger := robodev.Logger(pluginName)
	logger.SetLevel(hclog.Trace)

	// Tests use the pid file to check that the plugin process is gone after the host stops it.
	// It is written before Serve prints the handshake line.
	if path := os.Getenv("ROBODEV_TEST_PID_FILE"); path != "" {
		if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			logger.Error("writing the pid file", "path", path, "error", err)
			os.Exit(1)
		}
	}

	robodev.Serve(&robodev.TicketingPlugin{Impl: &ticketing{logger: logger}}, logger)
}
