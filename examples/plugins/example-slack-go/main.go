// robodev-plugin-slack: a Slack notification plugin written with robodev's Go SDK (sdk/go) on
// hashicorp/go-plugin: robodev's notifications (start, completion with its outcome, free-form
// notices) as messages posted to a Slack incoming webhook.
//
// Configuration, from the plugin's environment (robodev-config.yaml's `env:`):
//
//	SLACK_WEBHOOK_URL   the incoming webhook URL (required)
//	SLACK_TIMEOUT       per request, a Go duration (default 10s)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	robodev "robodev.dev/sdk/go"
	pb "robodev.dev/sdk/go/robodevv1"
)

type slack struct {
	pb.UnimplementedNotificationChannelServer
	webhook string
	client  *http.Client
	logger  hclog.Logger
}

func (s *slack) Handshake(context.Context, *pb.HandshakeRequest) (*pb.HandshakeResponse, error) {
	return &pb.HandshakeResponse{InterfaceVersion: 1, PluginName: "slack", PluginVersion: "1.0.0"}, nil
}

func ticketLink(t *pb.Ticket) string {
	if t.GetExternalUrl() != "" {
		return fmt.Sprintf("<%s|%s>", t.GetExternalUrl(), t.GetId())
	}
	return t.GetId()
}

func (s *slack) Notify(ctx context.Context, r *pb.NotifyRequest) (*pb.NotifyResponse, error) {
	return &pb.NotifyResponse{}, s.post(ctx, fmt.Sprintf("%s: %s", ticketLink(r.GetTicket()), r.GetMessage()))
}

func (s *slack) NotifyStart(ctx context.Context, r *pb.NotifyStartRequest) (*pb.NotifyStartResponse, error) {
	text := fmt.Sprintf(":robot_face: started %s (%s) with %s", ticketLink(r.GetTicket()), r.GetTicket().GetTitle(), r.GetEngine())
	return &pb.NotifyStartResponse{}, s.post(ctx, text)
}

func (s *slack) NotifyComplete(ctx context.Context, r *pb.NotifyCompleteRequest) (*pb.NotifyCompleteResponse, error) {
	result := r.GetResult()
	icon, outcome := ":x:", "failed"
	if result.GetSuccess() {
		icon, outcome = ":white_check_mark:", "succeeded"
	}
	text := fmt.Sprintf("%s %s %s: %s", icon, ticketLink(r.GetTicket()), outcome, result.GetSummary())
	if result.GetMergeRequestUrl() != "" {
		text += "\n" + result.GetMergeRequestUrl()
	}
	return &pb.NotifyCompleteResponse{}, s.post(ctx, text)
}

// post sends one message; Slack's refusal becomes the gRPC status robodev reports.
func (s *slack) post(ctx context.Context, text string) error {
	body, _ := json.Marshal(map[string]string{"text": text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.webhook, bytes.NewReader(body))
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "SLACK_WEBHOOK_URL: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return status.Errorf(codes.Unavailable, "cannot reach the Slack webhook: %v", err)
	}
	defer resp.Body.Close()
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	switch {
	case resp.StatusCode < 300:
		s.logger.Debug("message posted", "bytes", len(body))
		return nil
	case resp.StatusCode == 400:
		return status.Errorf(codes.InvalidArgument, "Slack answered 400: %s", detail)
	case resp.StatusCode == 403 || resp.StatusCode == 404:
		return status.Errorf(codes.PermissionDenied, "Slack answered %d: %s", resp.StatusCode, detail)
	default:
		return status.Errorf(codes.Unavailable, "Slack answered %d: %s", resp.StatusCode, detail)
	}
}

func main() {
	logger := robodev.Logger("slack")
	webhook := os.Getenv("SLACK_WEBHOOK_URL")
	if webhook == "" {
		fmt.Fprintln(os.Stderr, "robodev-plugin-slack: set SLACK_WEBHOOK_URL in the plugin's env")
		os.Exit(1)
	}
	timeout := 10 * time.Second
	if text := os.Getenv("SLACK_TIMEOUT"); text != "" {
		d, err := time.ParseDuration(text)
		if err != nil {
			fmt.Fprintf(os.Stderr, "robodev-plugin-slack: SLACK_TIMEOUT %q: %v\n", text, err)
			os.Exit(1)
		}
		timeout = d
	}
	robodev.Serve(&robodev.NotificationsPlugin{Impl: &slack{
		webhook: webhook,
		client:  &http.Client{Timeout: timeout},
		logger:  logger,
	}}, logger)
}
