// Worker results posted back to a session that may have closed meanwhile.
#include "session_completion.h"

#include "client_session.h"

namespace minisync::server {

void SessionCompletion::post(Delivery deliver) const
{
    context_->inbox.post([context = context_, session_id = session_id_, deliver = std::move(deliver)] {
        if (ClientSession* session = context->find_session(session_id)) {
            deliver(session->requests());
        }
    });
}

} // namespace minisync::server
