"""Shared by the tests of the exercise checkers (unsupervised.exercises), chapter by chapter."""

import re


def assert_no_numbers(out):
    """A checker's message carries no decimal numbers at all, so no expected value can leak."""
    assert not re.search(r"\d\.\d|\d{2,}", out), out


def run(checker, answer, capsys):
    """Call a checker on the learner's answer; return (verdict, printed message). Every
    checker returns a bool and prints a message, which never leaks a value."""
    result = checker(answer)
    out = capsys.readouterr().out
    assert isinstance(result, bool)
    assert out.strip(), "a checker always prints a message"
    assert_no_numbers(out)
    return result, out


def stub(*args):
    """The learner's function before it is written."""
    raise NotImplementedError
