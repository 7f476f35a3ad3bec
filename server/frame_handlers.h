// What each request frame does once a connection is past HELLO, and the table that picks the handler
// by frame type (as chrony's cmdmon does). A frame is checked before anything acts on it: a type with
// no handler, a body where none belongs, or a body the codec refuses drops the connection.
#pragma once

#include "byte_buffer.h"
#include "libevent_handles.h"
#include "protocol.h"
#include "session_requests.h"

namespace minisync::server {

// Any frame but DATA, on a connection past HELLO.
void handle_request_frame(SessionRequests& requests, const protocol::FrameHeader& header, ByteBuffer&& body);
// A DATA frame's body (prefix and payload) as it came off the socket, on a connection past HELLO.
void handle_data(SessionRequests& requests, EvBufferPtr body);

} // namespace minisync::server
