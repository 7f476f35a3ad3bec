// Tests for a connection's request table: ids must increase, which ids are stale, lookup and removal,
// the limit on requests in flight, and the path lock that leaves with a removed request.
#include "request_table.h"

#include "request_fixture.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace minisync::server {
namespace {

class RequestTableTest : public test::RequestFixture {
protected:
    ClientRequestPtr request_on(const std::string& path) { return std::make_unique<ClientRequest>(admission(path).path); }
    // Claims the id and adds a request on a path of its own.
    void add(std::uint32_t request_id)
    {
        ASSERT_TRUE(table_.claim_id(request_id));
        table_.insert(request_id, request_on("file-" + std::to_string(request_id)));
    }

    RequestTable table_;
};

TEST_F(RequestTableTest, IdsMustIncrease)
{
    EXPECT_FALSE(table_.claim_id(0)) << "0 names the connection, never a request";
    EXPECT_TRUE(table_.claim_id(1));
    EXPECT_FALSE(table_.claim_id(1)) << "an id used once is used up";
    EXPECT_TRUE(table_.claim_id(5));
    EXPECT_FALSE(table_.claim_id(3)) << "below the highest id, though never used";
    EXPECT_TRUE(table_.claim_id(6));
}

TEST_F(RequestTableTest, StaleIdsAreUsedAndFinished)
{
    add(1);
    EXPECT_FALSE(table_.is_stale(1)) << "live";
    ASSERT_TRUE(table_.claim_id(2)); // claimed, then refused: never in the table
    EXPECT_TRUE(table_.is_stale(2));
    EXPECT_FALSE(table_.is_stale(3)) << "not used yet: unknown, not stale";
    EXPECT_FALSE(table_.is_stale(0));
    EXPECT_NE(table_.remove(1), nullptr);
    EXPECT_TRUE(table_.is_stale(1));
}

TEST_F(RequestTableTest, LookupAndRemoval)
{
    add(1);
    add(2);
    EXPECT_EQ(table_.size(), 2U);
    ClientRequest* first = table_.find(1);
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first->lock_key(), key_of("file-1"));
    EXPECT_TRUE(table_.contains(2));
    EXPECT_EQ(table_.find(3), nullptr);

    const ClientRequestPtr removed = table_.remove(1);
    EXPECT_EQ(removed.get(), first) << "the caller gets the request itself";
    EXPECT_EQ(table_.find(1), nullptr);
    EXPECT_FALSE(table_.contains(1));
    EXPECT_EQ(table_.size(), 1U);
    EXPECT_EQ(table_.remove(1), nullptr) << "removed once";
    EXPECT_NE(table_.find(2), nullptr) << "the other request stays";
}

TEST_F(RequestTableTest, FullAtTheLimitOfRequestsInFlight)
{
    for (std::uint32_t id = 1; id <= RequestTable::MaxRequests; ++id) {
        EXPECT_FALSE(table_.full()) << "with " << table_.size() << " requests";
        add(id);
    }
    EXPECT_TRUE(table_.full());
    EXPECT_NE(table_.remove(7), nullptr);
    EXPECT_FALSE(table_.full());
}

TEST_F(RequestTableTest, ARemovedRequestTakesItsPathLockWithIt)
{
    add(1);
    EXPECT_FALSE(HeldPath::acquire(locks_, key_of("file-1"), false)) << "held by request 1";
    table_.remove(1).reset();
    EXPECT_TRUE(HeldPath::acquire(locks_, key_of("file-1"), false)) << "released with request 1";
}

TEST_F(RequestTableTest, RequestsStillInTheTableReleaseTheirLocksWithIt)
{
    auto table = std::make_unique<RequestTable>();
    ASSERT_TRUE(table->claim_id(1));
    table->insert(1, request_on("open-at-close"));
    table.reset(); // as when a connection closes with a request in flight
    EXPECT_TRUE(HeldPath::acquire(locks_, key_of("open-at-close"), false));
}

} // namespace
} // namespace minisync::server
