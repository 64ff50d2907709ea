"""The scorer benchmark's watcher probes each partition's oldest pending event and ones
exponentially further (bench/scoring_feed.py `Watch`): few ids per poll, none skipped."""

from bench.scoring_feed import Message, Watch


def sent(topic: str, partition: int, count: int) -> list[Message]:
    return [Message(topic, partition, b"", b"", [], f"{topic}{partition}-{n}")
            for n in range(count)]


def test_probes_are_the_oldest_pending_then_exponentially_further_and_the_newest():
    watch = Watch()
    watch.add(sent("t", 0, 20) + sent("t", 1, 2))
    probes = watch.probes()
    assert sorted(i for (tp, i) in probes.values() if tp == ("t", 0)) == [0, 1, 3, 7, 15, 19]
    assert sorted(i for (tp, i) in probes.values() if tp == ("t", 1)) == [0, 1]
    watch.first[("t", 0)] = 8  # 0..7 seen
    assert sorted(i for (tp, i) in watch.probes().values() if tp == ("t", 0)) == [8, 9, 11, 15,
                                                                                   19]
    watch.first[("t", 0)] = 20
    assert all(tp != ("t", 0) for tp, _ in watch.probes().values())
