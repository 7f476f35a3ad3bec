// ClientUploads: open uploads are capped per client and in all, and a place comes back when its slot goes,
// on whichever thread that is.
#include "client_uploads.h"

#include <gtest/gtest.h>

#include <thread>
#include <utility>
#include <vector>

namespace minisync::server {
namespace {

using Verdict = ClientUploads::Verdict;

TEST(ClientUploadsTest, OneClientFillsOnlyItsOwnPlaces)
{
    ClientUploads uploads{3, 10};
    std::vector<ClientUploads::Slot> hostile(4);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(uploads.take("hostile", hostile[i]), Verdict::Taken);
    }
    EXPECT_EQ(uploads.take("hostile", hostile[3]), Verdict::ClientFull);
    EXPECT_FALSE(hostile[3].held());
    ClientUploads::Slot other;
    EXPECT_EQ(uploads.take("laptop", other), Verdict::Taken);
    EXPECT_EQ(uploads.of("hostile"), 3U);
    EXPECT_EQ(uploads.of("laptop"), 1U);
    EXPECT_EQ(uploads.total(), 4U);
}

TEST(ClientUploadsTest, TheTotalCapHoldsAcrossClients)
{
    ClientUploads uploads{8, 2};
    ClientUploads::Slot a;
    ClientUploads::Slot b;
    ClientUploads::Slot c;
    EXPECT_EQ(uploads.take("a", a), Verdict::Taken);
    EXPECT_EQ(uploads.take("b", b), Verdict::Taken);
    EXPECT_EQ(uploads.take("c", c), Verdict::ServerFull);
    EXPECT_EQ(uploads.of("c"), 0U);
    a.release();
    EXPECT_EQ(uploads.take("c", c), Verdict::Taken);
}

TEST(ClientUploadsTest, APlaceComesBackWhenItsSlotGoesAndOnlyOnce)
{
    ClientUploads uploads{1, 1};
    {
        ClientUploads::Slot slot;
        ASSERT_EQ(uploads.take("laptop", slot), Verdict::Taken);
        ClientUploads::Slot moved{std::move(slot)};
        EXPECT_FALSE(slot.held());
        EXPECT_TRUE(moved.held());
        ClientUploads::Slot assigned;
        assigned = std::move(moved);
        EXPECT_EQ(uploads.total(), 1U);
        assigned.release();
        assigned.release();
        EXPECT_EQ(uploads.total(), 0U);
        ASSERT_EQ(uploads.take("laptop", assigned), Verdict::Taken);
    }
    EXPECT_EQ(uploads.total(), 0U);
    EXPECT_EQ(uploads.of("laptop"), 0U);
}

// Slots are taken on the loop thread and given back by the workers that close the files.
TEST(ClientUploadsTest, SlotsGivenBackOnOtherThreadsAreCounted)
{
    constexpr int PerThread = 2000;
    ClientUploads uploads{4 * PerThread, 4 * PerThread};
    std::vector<std::vector<ClientUploads::Slot>> batches(4);
    for (auto& batch : batches) {
        batch.resize(PerThread);
        for (ClientUploads::Slot& slot : batch) {
            ASSERT_EQ(uploads.take("laptop", slot), Verdict::Taken);
        }
    }
    std::vector<std::thread> workers;
    for (auto& batch : batches) {
        workers.emplace_back([&batch] { batch.clear(); });
    }
    for (ClientUploads::Slot slot; uploads.total() > 0;) {
        if (uploads.take("desktop", slot) == Verdict::Taken) {
            slot.release();
        }
    }
    for (std::thread& worker : workers) {
        worker.join();
    }
    EXPECT_EQ(uploads.total(), 0U);
    EXPECT_EQ(uploads.of("laptop"), 0U);
}

} // namespace
} // namespace minisync::server
