package gateway

// CloseSessions closes this gateway's connections of user (of one session, when session is
// not empty) with code: the control plane heard the server API's disconnect. Like any end
// but 1000, the session keeps its grace period.
func (l local) CloseSessions(user, session string, code int, reason string) {
	for _, c := range l.g.conns.ofUser(user) {
		if session == "" || c.sess.ID == session {
			c.log().Info("connection closed by the server API", "code", code)
			c.cut(code, reason)
		}
	}
}
