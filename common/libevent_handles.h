// Owning smart-pointer aliases for libevent handles, so no event object is freed twice or leaked.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <memory>

namespace minisync {

// bufferevent_free() only drops a reference: a deferred callback still queued holds another one, and
// event_base_free() cancels such callbacks without running them, which leaks the connection with its
// SSL and buffers. A daemon frees its connections after its loop has stopped, so the base runs the loop a
// few rounds, without blocking, until those callbacks (and the finalizers they schedule) are done.
struct EvBaseFree {
    void operator()(event_base* base) const noexcept
    {
        constexpr int MaxRounds = 16;
        for (int round = 0; round < MaxRounds && event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) > 0;
             ++round) {
            event_base_loop(base, EVLOOP_NONBLOCK);
        }
        event_base_free(base);
    }
};
using EvBasePtr = std::unique_ptr<event_base, EvBaseFree>;

struct EventFree {
    void operator()(event* ev) const noexcept { event_free(ev); }
};
using EventPtr = std::unique_ptr<event, EventFree>;

struct BufferEventFree {
    void operator()(bufferevent* bev) const noexcept { bufferevent_free(bev); }
};
using BufferEventPtr = std::unique_ptr<bufferevent, BufferEventFree>;

struct EvListenerFree {
    void operator()(evconnlistener* listener) const noexcept { evconnlistener_free(listener); }
};
using EvListenerPtr = std::unique_ptr<evconnlistener, EvListenerFree>;

struct EvBufferFree {
    void operator()(evbuffer* buf) const noexcept { evbuffer_free(buf); }
};
using EvBufferPtr = std::unique_ptr<evbuffer, EvBufferFree>;

struct EvDnsBaseFree {
    // Pending lookups are dropped without their callbacks running.
    void operator()(evdns_base* dns) const noexcept { evdns_base_free(dns, 0); }
};
using EvDnsBasePtr = std::unique_ptr<evdns_base, EvDnsBaseFree>;

struct EvTokenBucketCfgFree {
    void operator()(ev_token_bucket_cfg* cfg) const noexcept { ev_token_bucket_cfg_free(cfg); }
};
using EvTokenBucketCfgPtr = std::unique_ptr<ev_token_bucket_cfg, EvTokenBucketCfgFree>;

} // namespace minisync
