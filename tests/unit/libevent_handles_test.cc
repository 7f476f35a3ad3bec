// Tests for the owning libevent handles: freeing an event base must not strand the connections freed
// just before it while one of their deferred callbacks was still queued.
#include "libevent_handles.h"

#include <gtest/gtest.h>

#include <array>
#include <string_view>

namespace minisync {
namespace {

void mark_freed(const void* /*data*/, size_t /*length*/, void* freed)
{
    *static_cast<bool*>(freed) = true;
}

TEST(EvBaseFreeTest, ABufferEventFreedWithADeferredCallbackQueuedIsReleasedWithTheBase)
{
    EvBasePtr base{event_base_new()};
    ASSERT_TRUE(base);
    std::array<bufferevent*, 2> pair{};
    ASSERT_EQ(bufferevent_pair_new(base.get(), BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, pair.data()), 0);
    BufferEventPtr sender{pair[0]};
    BufferEventPtr receiver{pair[1]};
    bufferevent_setcb(receiver.get(), [](bufferevent*, void*) {}, nullptr, nullptr, nullptr);
    ASSERT_EQ(bufferevent_enable(receiver.get(), EV_READ), 0);
    ASSERT_EQ(bufferevent_enable(sender.get(), EV_WRITE), 0);

    // The bytes move to the receiver's input at once and queue its deferred read callback, which holds a
    // reference on it. The cleanup runs only when the receiver's input buffer is really freed.
    static constexpr std::string_view Payload = "queued but never read";
    bool freed = false;
    ASSERT_EQ(evbuffer_add_reference(bufferevent_get_output(sender.get()), Payload.data(), Payload.size(),
                                     &mark_freed, &freed),
              0);
    ASSERT_GT(event_base_get_num_events(base.get(), EVENT_BASE_COUNT_ACTIVE), 0);

    receiver.reset();
    sender.reset();
    EXPECT_FALSE(freed) << "the deferred callback was expected to keep the receiver alive";
    base.reset();
    EXPECT_TRUE(freed) << "the receiver, freed with a deferred callback queued, was never released";
}

} // namespace
} // namespace minisync
