// HandshakeAdmission: handshakes in progress are capped in all and per source address, and a place comes
// back when its connection is authenticated or goes.
#include "handshake_admission.h"

#include <gtest/gtest.h>

#include <vector>

namespace minisync::server {
namespace {

using Verdict = HandshakeAdmission::Verdict;

TEST(HandshakeAdmissionTest, OneAddressFillsOnlyItsOwnPlaces)
{
    HandshakeAdmission admission{10, 3};
    std::vector<HandshakeAdmission::Slot> flood(4);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(admission.admit("10.0.0.66", flood[i]), Verdict::Admitted);
    }
    EXPECT_EQ(admission.admit("10.0.0.66", flood[3]), Verdict::TooManyFromAddress);
    EXPECT_FALSE(flood[3].held());
    HandshakeAdmission::Slot agent;
    EXPECT_EQ(admission.admit("10.0.0.7", agent), Verdict::Admitted);
    EXPECT_EQ(admission.in_progress(), 4U);
    EXPECT_EQ(admission.from("10.0.0.66"), 3U);
}

TEST(HandshakeAdmissionTest, TheTotalCapHoldsAcrossAddresses)
{
    HandshakeAdmission admission{2, 8};
    HandshakeAdmission::Slot a;
    HandshakeAdmission::Slot b;
    HandshakeAdmission::Slot c;
    EXPECT_EQ(admission.admit("::1", a), Verdict::Admitted);
    EXPECT_EQ(admission.admit("127.0.0.2", b), Verdict::Admitted);
    EXPECT_EQ(admission.admit("127.0.0.3", c), Verdict::TooManyInAll);
    a.release();
    EXPECT_EQ(admission.admit("127.0.0.3", c), Verdict::Admitted);
}

TEST(HandshakeAdmissionTest, APlaceComesBackOnceWhenReleasedMovedOrDestroyed)
{
    HandshakeAdmission admission{10, 1};
    {
        HandshakeAdmission::Slot slot;
        ASSERT_EQ(admission.admit("a", slot), Verdict::Admitted);
        HandshakeAdmission::Slot moved = std::move(slot);
        EXPECT_FALSE(slot.held());
        EXPECT_TRUE(moved.held());
        EXPECT_EQ(admission.from("a"), 1U);
        moved.release();
        moved.release();
        EXPECT_EQ(admission.from("a"), 0U);
        EXPECT_EQ(admission.in_progress(), 0U);
        ASSERT_EQ(admission.admit("a", slot), Verdict::Admitted);
    }
    EXPECT_EQ(admission.in_progress(), 0U) << "a destroyed slot gives its place back";
    HandshakeAdmission::Slot again;
    EXPECT_EQ(admission.admit("a", again), Verdict::Admitted);
}

} // namespace
} // namespace minisync::server
