"""`android_bench.rounds`: rounds in a shuffled order, agreement of two rounds, repeats, the median figure, and the
big cores' frequency around every round (throttled rounds repeated or flagged), on the fake adb."""
import pytest
from bench_fakes import NOTE8

from android_bench import BenchmarkOptions
from android_bench import make_target
from android_bench.device import cur_freq_command
from android_bench.device import parse_cur_freqs
from android_bench.rounds import RepeatedRounds
from android_bench.rounds import RepeatPolicy
from android_bench.rounds import frequency_dropped

FAST = "bench_current_percentiles.txt"  # least run 31.388 ms, median 31.839 ms
SLOW = "bench_current_percentiles_slower.txt"  # least run 35.102 ms (11.8% slower)
SLOWEST = "bench_current_percentiles_slowest.txt"  # least run 39.502 ms (12.5% slower still)
BIG = [4, 5, 6, 7]


@pytest.fixture
def engine(fake_adb, android_binary):
    def make(policy=RepeatPolicy(), statistic="min", seed=0):
        target = make_target(NOTE8, android_binary)
        return RepeatedRounds(target, BenchmarkOptions(), policy, statistic, seed=seed)

    return make


def _benchmarked(fake_adb) -> list[str]:
    return [call[4].rsplit("/", 1)[1] for call in fake_adb.calls() if call[2:3] == ["push"]
            and "benchmark_model" not in call[3]]


def test_a_round_runs_every_model_once_in_a_seeded_shuffled_order(engine, fake_adb, make_model):
    models = [make_model(f"m{i}.tflite") for i in range(6)]
    first = engine(seed=1)
    first.run_round(models)
    order = _benchmarked(fake_adb)
    assert sorted(order) == [f"m{i}.tflite" for i in range(6)] and order != sorted(order)
    fake_adb.clear_log()
    engine(seed=1).run_round(models)
    assert _benchmarked(fake_adb) == order  # the seed fixes it
    assert first.figures(models[0]) == [pytest.approx(31.388)] and first.spread(models[0]) is None


def test_disagreeing_rounds_are_repeated_until_two_agree_and_the_figure_is_their_median(engine, fake_adb,
                                                                                       make_model):
    steady, jumpy = make_model("steady.tflite"), make_model("jumpy.tflite")
    fake_adb.set_bench_sequence("jumpy.tflite", [SLOWEST, FAST, SLOW, FAST])
    rounds = engine()
    rounds.run_round([steady, jumpy])
    assert rounds.check([steady, jumpy]) == []
    # check round for both, then jumpy alone: 39.502 / 31.388 / 35.102 (no two within 5%) -> 31.388: agreed
    assert [(r.purpose, r.models) for r in rounds.rounds] == [("measure", 2), ("check", 2), ("repeat", 1),
                                                               ("repeat", 1)]
    assert rounds.figures(jumpy) == pytest.approx([39.502, 31.388, 35.102, 31.388])
    assert rounds.figure(jumpy) == pytest.approx((31.388 + 35.102) / 2) and rounds.spread(jumpy) == 0.0
    assert rounds.first_spread(jumpy) == pytest.approx(39.502 / 31.388 - 1)
    assert rounds.repeated(jumpy) and not rounds.repeated(steady)
    summary = rounds.summary([steady, jumpy])
    assert (summary["checked"], summary["repeated"], summary["unstable"], summary["tolerance_pct"]) == (2, 1, 0, 5)
    assert summary["abs_tolerance_ms"] == 0.002
    assert summary["first_spread_pct"]["max"] == pytest.approx(100 * (39.502 / 31.388 - 1))
    assert summary["spread_pct"] == {"median": 0.0, "p95": 0.0, "max": 0.0}


def test_a_lucky_round_is_outvoted_and_rounds_that_never_agree_stay_unstable(engine, fake_adb, make_model):
    lucky, drifting = make_model("lucky.tflite"), make_model("drifting.tflite")
    fake_adb.set_bench_sequence("lucky.tflite", [FAST, SLOW])  # 31.388 once, then 35.102 every time
    fake_adb.set_bench_sequence("drifting.tflite", [FAST, SLOW, SLOWEST])  # no two within 5%
    rounds = engine(RepeatPolicy(tolerance=0.05, max_repeats=1))
    rounds.run_round([lucky, drifting])
    assert rounds.check([lucky, drifting]) == [str(drifting.resolve())]
    assert rounds.figures(lucky) == pytest.approx([31.388, 35.102, 35.102])
    assert rounds.figure(lucky) == pytest.approx(35.102)  # the median: the lucky least round does not decide
    assert not rounds.stable(drifting) and rounds.spread(drifting) == pytest.approx(35.102 / 31.388 - 1)
    # a looser tolerance accepts the drifting figures
    loose = engine(RepeatPolicy(tolerance=0.15))
    assert not loose.stable(drifting)  # no rounds of its own yet
    loose.add_prior(drifting, 31.388)
    loose.run_round([drifting])  # its sequence goes on: 39.502
    assert not loose.stable(drifting)  # 25.9% apart
    loose.run_round([drifting])  # 39.502 again
    assert loose.stable(drifting) and loose.figure(drifting) == pytest.approx(39.502)


def test_the_median_statistic_takes_the_median_of_the_rounds(engine, fake_adb, make_model):
    model = make_model("m.tflite")
    fake_adb.set_bench_sequence("m.tflite", [SLOW, FAST, FAST])
    rounds = engine(statistic="median")
    for _ in range(3):
        rounds.run_round([model])
    assert rounds.figures(model) == pytest.approx([35.48, 31.839, 31.839])
    assert rounds.figure(model) == pytest.approx(31.839)


def test_cur_freq_is_read_around_every_round_and_a_drop_repeats_the_round(engine, fake_adb, make_model):
    models = [make_model("a.tflite"), make_model("b.tflite")]
    fake_adb.set_cur_freqs(NOTE8, [{4: 2314000, 5: 2314000, 6: 2314000, 7: 2314000},
                                   {4: 2314000, 5: 1800000, 6: 2314000, 7: 2314000},  # cpu5: 22% slower
                                   {4: 2314000, 5: 2314000, 6: 2314000, 7: 2314000}])
    rounds = engine()
    record = rounds.run_round(models)
    freq_read = ["-s", NOTE8, "shell", cur_freq_command(BIG)]  # the taskset's cores: the big cluster
    assert fake_adb.calls().count(freq_read) == 4
    assert record.throttled and record.replaced and record.cpu_khz_after[5] == 1800000
    again = rounds.rounds[1]
    assert not again.throttled and again.purpose == "measure, repeated: round 1 was throttled"
    assert [len(rounds.measured(m)) for m in models] == [1, 1]  # the throttled round's figures dropped
    assert rounds.round_log()[0]["cpu_khz_after"] == {"cpu4": 2314000, "cpu5": 1800000, "cpu6": 2314000,
                                                       "cpu7": 2314000}


def test_a_device_that_hides_its_frequency_is_recorded_as_unknown(engine, fake_adb, make_model):
    rounds = engine()
    record = rounds.run_round([make_model("a.tflite")])
    assert (record.cpu_khz_before, record.cpu_khz_after, record.throttled) == (None, None, False)


def test_frequency_parsing_and_drop_rule():
    text = ("/sys/devices/system/cpu/cpu4/cpufreq/scaling_cur_freq:2314000\n"
            "grep: /sys/devices/system/cpu/cpu5/cpufreq/scaling_cur_freq: Permission denied\n"
            "/sys/devices/system/cpu/cpu6/cpufreq/scaling_cur_freq:1950000\n")
    assert parse_cur_freqs(text) == {4: 2314000, 6: 1950000}
    assert cur_freq_command([4, 5]) == ("grep -H . /sys/devices/system/cpu/cpu4/cpufreq/scaling_cur_freq "
                                        "/sys/devices/system/cpu/cpu5/cpufreq/scaling_cur_freq")
    assert frequency_dropped({4: 2314000}, {4: 2000000}, 0.10)  # 13.6% below
    assert not frequency_dropped({4: 2314000}, {4: 2100000}, 0.10)  # 9.2%
    assert not frequency_dropped({4: 1000000}, {4: 2314000}, 0.10)  # idle before, busy after: no drop
    assert not frequency_dropped(None, {4: 2314000}, 0.10) and not frequency_dropped({5: 1}, {4: 1}, 0.10)


def test_a_difference_within_the_timer_resolution_agrees(engine):
    rounds = engine(RepeatPolicy(tolerance=0.05, abs_tolerance_ms=0.002))
    assert rounds.agree(0.010, 0.012) and not rounds.agree(0.010, 0.0125)  # 20% apart, but 2 us
    assert rounds.agree(31.388, 32.9) and not rounds.agree(31.388, 33.0)  # 4.8% / 5.1%
    assert not engine(RepeatPolicy(abs_tolerance_ms=0.0)).agree(0.010, 0.012)


@pytest.mark.parametrize("kwargs, message", [
    ({"tolerance": 0}, "Invalid tolerance=0: expected a fraction in (0, 1), e.g. 0.05 for 5%."),
    ({"tolerance": 5}, "Invalid tolerance=5"),
    ({"max_repeats": -1}, "Invalid max_repeats=-1: expected an integer >= 0."),
    ({"freq_drop": 1.0}, "Invalid freq_drop=1.0"),
    ({"abs_tolerance_ms": -1}, "Invalid abs_tolerance_ms=-1: expected a finite value >= 0."),
])
def test_policy_names_the_bad_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RepeatPolicy(**kwargs)
