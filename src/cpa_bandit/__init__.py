"""cpa-bandit: picks the advertiser offer for each click so that revenue per click is maximal."""

__version__ = "0.1.0"
