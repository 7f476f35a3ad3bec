// The one way a worker's result gets back to the connection that asked for it. The connection may
// close, and be freed, while the worker runs, so nothing of it is captured: the result is posted to the
// loop thread, the session is looked up there by id, and a result for a session that is gone is dropped.
#pragma once

#include "session_context.h"

#include <cstdint>
#include <functional>
#include <utility>

namespace minisync::server {

class SessionRequests;

class SessionCompletion {
public:
    using Delivery = std::function<void(SessionRequests&)>;

    SessionCompletion(SessionContext& context, std::uint64_t session_id) noexcept
        : context_{&context}, session_id_{session_id}
    {
    }

    // Any thread. deliver runs on the loop thread, on a later pass, if the session is still open.
    void post(Delivery deliver) const;

    // A function for a worker to call with its result, from any thread: deliver(requests, result) then
    // runs as post() says.
    template <typename Result, typename Deliver>
    [[nodiscard]] std::function<void(Result)> reporter(Deliver deliver) const
    {
        return [completion = *this, deliver = std::move(deliver)](Result result) {
            completion.post([deliver, result = std::move(result)](SessionRequests& requests) {
                deliver(requests, result);
            });
        };
    }

private:
    SessionContext* context_;
    std::uint64_t session_id_;
};

} // namespace minisync::server
