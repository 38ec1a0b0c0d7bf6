"""The law dunflow computes with: rate tables, statutory and contractual interest, collection costs and the
fixed compensation. Pure (stdlib and Decimal only): rates come in as data, results go out with the periods,
brackets and wording a finance admin needs to check them by hand."""
from dunflow.domain.law.costs import (
    Bracket,
    CompensationResult,
    CostsResult,
    collection_costs,
    compensation,
)
from dunflow.domain.law.errors import LawRefusal, MissingRate, OverlappingRates, UnsupportedLaw
from dunflow.domain.law.interest import InterestPeriod, InterestResult, contractual_interest, statutory_interest
from dunflow.domain.law.notices import FourteenDayTerm, fourteen_day_term, has_legal_effect
from dunflow.domain.law.rates import RATE_KINDS, RatePeriod, RateTable

__all__ = [
    "RATE_KINDS", "Bracket", "CompensationResult", "CostsResult", "FourteenDayTerm", "InterestPeriod", "InterestResult", "LawRefusal",
    "MissingRate", "OverlappingRates", "RatePeriod", "RateTable", "UnsupportedLaw", "collection_costs",
    "compensation", "contractual_interest", "fourteen_day_term", "has_legal_effect", "statutory_interest",
]
