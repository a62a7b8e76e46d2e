// Package robodev writes and hosts robodev plugins in Go, over hashicorp/go-plugin's gRPC
// protocol: the same handshake, cookie and services as RoboDev's plugins, so a plugin built with
// it loads in robodev and in RoboDev's Go controller, and a host built with it loads plugins
// written in any language (Rust, Python, TypeScript, Go).
//
// A plugin implements one robodev.v1 service (the generated interfaces in package robodevv1,
// e.g. robodevv1.TicketingBackendServer, embedding the Unimplemented type for forward
// compatibility) and serves it:
//
//	func main() {
//		robodev.Serve(&robodev.TicketingPlugin{Impl: &myTicketing{}})
//	}
//
// Serve answers the host's handshake, serves gRPC (with AutoMTLS when the host asks for it),
// the health service, GRPCController.Shutdown and GRPCStdio, and returns when the host stops
// the plugin. Logs go through Logger (hclog JSON on stderr), which hosts re-log at their level.
//
// It works with hashicorp/go-plugin v1.7.0 (what go.mod requires, and RoboDev's controller
// uses) and back to v1.0.1 (a module that pins v1.0.1 with a replace directive still builds).
package robodev

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "robodev.dev/sdk/go/robodevv1"
)

// Handshake is the go-plugin handshake of robodev and RoboDev: application protocol version 1,
// cookie ROBODEV_PLUGIN=robodev.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "ROBODEV_PLUGIN",
	MagicCookieValue: "robodev",
}

// The keys of the plugin set, one per interface (what a Go host dispenses).
const (
	TicketingKey     = "ticketing"
	NotificationsKey = "notifications"
	ApprovalKey      = "approval"
	SecretsKey       = "secrets"
	ReviewKey        = "review"
	SCMKey           = "scm"
	EngineKey        = "engine"
)

// Plugin is one robodev interface as a go-plugin gRPC plugin: a *TicketingPlugin,
// *NotificationsPlugin, ... Its Impl serves it; a host leaves Impl nil and dispenses a client.
type Plugin interface {
	plugin.GRPCPlugin
	plugin.Plugin
	// Key is the interface's key in the plugin set.
	Key() string
}

var errNoImpl = errors.New("robodev: this plugin value has no Impl to serve (set Impl, or use it only in a host's plugin map)")

// TicketingPlugin serves or consumes robodev.v1.TicketingBackend.
type TicketingPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pb.TicketingBackendServer
}

func (*TicketingPlugin) Key() string { return TicketingKey }

func (p *TicketingPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errNoImpl
	}
	pb.RegisterTicketingBackendServer(s, p.Impl)
	return nil
}

func (*TicketingPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return pb.NewTicketingBackendClient(c), nil
}

// NotificationsPlugin serves or consumes robodev.v1.NotificationChannel.
type NotificationsPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pb.NotificationChannelServer
}

func (*NotificationsPlugin) Key() string { return NotificationsKey }

func (p *NotificationsPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errNoImpl
	}
	pb.RegisterNotificationChannelServer(s, p.Impl)
	return nil
}

func (*NotificationsPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return pb.NewNotificationChannelClient(c), nil
}

// ApprovalPlugin serves or consumes robodev.v1.HumanApprovalBackend.
type ApprovalPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pb.HumanApprovalBackendServer
}

func (*ApprovalPlugin) Key() string { return ApprovalKey }

func (p *ApprovalPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errNoImpl
	}
	pb.RegisterHumanApprovalBackendServer(s, p.Impl)
	return nil
}

func (*ApprovalPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return pb.NewHumanApprovalBackendClient(c), nil
}

// SecretsPlugin serves or consumes robodev.v1.SecretsBackend.
type SecretsPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pb.SecretsBackendServer
}

func (*SecretsPlugin) Key() string { return SecretsKey }

func (p *SecretsPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errNoImpl
	}
	pb.RegisterSecretsBackendServer(s, p.Impl)
	return nil
}

func (*SecretsPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return pb.NewSecretsBackendClient(c), nil
}

// ReviewPlugin serves or consumes robodev.v1.ReviewBackend.
type ReviewPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pb.ReviewBackendServer
}

func (*ReviewPlugin) Key() string { return ReviewKey }

func (p *ReviewPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errNoImpl
	}
	pb.RegisterReviewBackendServer(s, p.Impl)
	return nil
}

func (*ReviewPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return pb.NewReviewBackendClient(c), nil
}

// SCMPlugin serves or consumes robodev.v1.SCMBackend.
type SCMPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pb.SCMBackendServer
}

func (*SCMPlugin) Key() string { return SCMKey }

func (p *SCMPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errNoImpl
	}
	pb.RegisterSCMBackendServer(s, p.Impl)
	return nil
}

func (*SCMPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return pb.NewSCMBackendClient(c), nil
}

// EnginePlugin serves or consumes robodev.v1.ExecutionEngine.
type EnginePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pb.ExecutionEngineServer
}

func (*EnginePlugin) Key() string { return EngineKey }

func (p *EnginePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errNoImpl
	}
	pb.RegisterExecutionEngineServer(s, p.Impl)
	return nil
}

func (*EnginePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return pb.NewExecutionEngineClient(c), nil
}

// PluginMap is every interface, client side: what a host passes as ClientConfig.Plugins.
func PluginMap() plugin.PluginSet {
	set := plugin.PluginSet{}
	for _, p := range []Plugin{
		&TicketingPlugin{}, &NotificationsPlugin{}, &ApprovalPlugin{}, &SecretsPlugin{},
		&ReviewPlugin{}, &SCMPlugin{}, &EnginePlugin{},
	} {
		set[p.Key()] = p
	}
	return set
}

// Logger is the plugin's logger: hclog JSON lines on the real stderr (go-plugin hosts, robodev
// among them, parse them and re-log each at its level under the plugin's name). The level is
// ROBODEV_PLUGIN_LOG_LEVEL's (trace, debug, info, warn, error; default info).
//
// Make it before Serve: once the handshake line is out, go-plugin replaces os.Stderr with a
// pipe (which v1.0.1 never drains).
func Logger(name string) hclog.Logger {
	level := hclog.LevelFromString(os.Getenv("ROBODEV_PLUGIN_LOG_LEVEL"))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      level,
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

// Serve serves p until the host stops the plugin, logging through logger (nil: Logger of the
// executable's name). Run directly (no host's cookie), it prints go-plugin's "This binary is a
// plugin" message and exits 1.
func Serve(p Plugin, logger hclog.Logger) {
	if logger == nil {
		name := os.Args[0]
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		logger = Logger(name)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{p.Key(): p},
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          logger,
	})
}

// NewClient launches the plugin executable cmd as a go-plugin gRPC plugin of robodev, with
// AutoMTLS when mtls is set. Dispense an interface from its Client() by key (TicketingKey, ...)
// and Kill() it when done.
func NewClient(cmd *exec.Cmd, mtls bool, logger hclog.Logger) *plugin.Client {
	return plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          PluginMap(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         mtls,
		Logger:           logger,
	})
}
