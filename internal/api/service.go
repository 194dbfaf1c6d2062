package api

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// The NATS service, as `nats micro ls` and `nats micro info chat` show it.
const (
	ServiceName        = "chat"
	ServiceVersion     = "1.1.0"
	ServiceDescription = "chat server API (docs/api.md): the same methods and JSON bodies as POST /api/v1/<method>"
)

// Register adds the API to nc as the NATS service "chat": one endpoint per method on
// chat.api.<method>, in micro's default queue group, so that one gateway of all those
// registered answers each request. The caller stops the service. Requests on NATS carry
// no key: NATS's own permissions decide who may publish to chat.api.> (docs/api.md).
func (a *API) Register(nc *nats.Conn) (micro.Service, error) {
	svc, err := micro.AddService(nc, micro.Config{
		Name:        ServiceName,
		Version:     ServiceVersion,
		Description: ServiceDescription,
		Metadata:    map[string]string{"gateway": a.cfg.GatewayID},
		ErrorHandler: func(_ micro.Service, e *micro.NATSError) {
			a.log.Warn("api service: NATS error", "subject", e.Subject, "err", e.Description)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("api: service: %w", err)
	}
	grp := svc.AddGroup(subject.API)
	maxPayload := int(nc.MaxPayload())
	for _, m := range Methods {
		h := micro.HandlerFunc(func(req micro.Request) { a.serveNATS(m, req, maxPayload) })
		err := grp.AddEndpoint(strings.ReplaceAll(m, ".", "_"), h, micro.WithEndpointSubject(m),
			micro.WithEndpointMetadata(map[string]string{"http": "POST " + Prefix + "v1/" + m}))
		if err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("api: endpoint %s: %w", m, err)
		}
	}
	return svc, nil
}

// serveNATS answers one request. micro runs an endpoint's requests one at a time on its
// subscription's goroutine; each is bounded by the API's timeout. An error is answered
// with micro's error headers (the HTTP status as the code, the message as the
// description) and the same JSON body as over HTTP.
//
// An answer over the server's maximum payload (1 MiB by default; a history of 1000 large
// events can be more) cannot be sent: it is answered too_large instead, so the caller asks
// for fewer rather than waiting for nothing.
func (a *API) serveNATS(name string, req micro.Request, maxPayload int) {
	out, e := a.Call(context.Background(), name, req.Data())
	if e == nil && maxPayload > 0 && len(out) > maxPayload {
		out, e = nil, protocol.Errorf(protocol.CodeTooLarge,
			"the answer is %d bytes, over the NATS server's maximum payload of %d: ask for fewer (limit), or use HTTP", len(out), maxPayload)
	}
	var err error
	if e != nil {
		err = req.Error(strconv.Itoa(Status(e.Code)), e.Message, errorBody(e),
			micro.WithHeaders(micro.Headers{"Content-Type": {"application/json"}}))
	} else {
		err = req.Respond(out)
	}
	if err != nil {
		a.log.Warn("api service: answer not sent", "method", name, "err", err)
	}
}
