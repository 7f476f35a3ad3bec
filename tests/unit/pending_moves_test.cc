// PendingMoves in virtual time: a MOVED_FROM is paired with its MOVED_TO by cookie, and one that finds
// none within the window comes back as a move out.
#include "pending_moves.h"

#include <gtest/gtest.h>

namespace minisync::agent {
namespace {

using namespace std::chrono_literals;
using Clock = PendingMoves::Clock;

const Clock::time_point Start{};

PendingMoves::MoveOut move_out(std::uint32_t cookie, std::size_t folder, std::string path)
{
    PendingMoves::MoveOut move;
    move.cookie = cookie;
    move.folder = folder;
    move.path = std::move(path);
    return move;
}

TEST(PendingMovesTest, AMovedToFindsItsMovedFromByCookie)
{
    PendingMoves moves;
    moves.add(move_out(7, 0, "old"), Start);
    moves.add(move_out(8, 0, "other"), Start);
    const auto source = moves.take(7);
    ASSERT_TRUE(source.has_value());
    EXPECT_EQ(source->path, "old");
    EXPECT_EQ(moves.take(7), std::nullopt) << "a cookie pairs once";
    EXPECT_EQ(moves.take(9), std::nullopt);
    EXPECT_EQ(moves.earliest(), Start + PendingMoves::MoveWindow);
}

TEST(PendingMovesTest, AMovedFromWithoutItsMovedToExpiresAfterTheWindowInArrivalOrder)
{
    PendingMoves moves;
    moves.add(move_out(1, 0, "first"), Start);
    moves.add(move_out(2, 0, "second"), Start + 10ms);
    moves.add(move_out(3, 0, "third"), Start + 40ms);
    EXPECT_TRUE(moves.take_expired(Start + PendingMoves::MoveWindow - 1ms).empty());
    const auto expired = moves.take_expired(Start + 10ms + PendingMoves::MoveWindow);
    ASSERT_EQ(expired.size(), 2U);
    EXPECT_EQ(expired[0].path, "first");
    EXPECT_EQ(expired[1].path, "second");
    EXPECT_EQ(moves.earliest(), Start + 40ms + PendingMoves::MoveWindow);
    ASSERT_TRUE(moves.take(3).has_value());
    EXPECT_EQ(moves.earliest(), std::nullopt);
}

TEST(PendingMovesTest, DroppingAFolderForgetsItsMoves)
{
    PendingMoves moves;
    moves.add(move_out(1, 0, "kept"), Start);
    moves.add(move_out(2, 1, "dropped"), Start);
    moves.drop_folder(1);
    EXPECT_EQ(moves.take(2), std::nullopt);
    EXPECT_TRUE(moves.take(1).has_value());
}

} // namespace
} // namespace minisync::agent
