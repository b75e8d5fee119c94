"""Query parameters that several routes take, each with the bounds the API keeps (evalroom/schemas.py, "bounds").

Every integer has a minimum and a maximum, so OpenAPI states them and validation answers 422
``validation_failed`` before a handler runs; every date and instant lies in the API's years. A route that
takes a number of its own bounds it the same way, with the limits from evalroom/schemas.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator

from evalroom.schemas import EARLIEST_DAY, LATEST_DAY, MAX_POSITION, MAX_VERSION, day_in_range, instant_in_range

__all__ = ["After", "EventLimit", "FromDay", "FromTime", "ToDay", "ToTime", "VersionQuery"]

_YEARS = f"between {EARLIEST_DAY} and {LATEST_DAY}"

After = Annotated[int, Query(ge=0, le=MAX_POSITION, description="the sequence number to continue after")]
EventLimit = Annotated[int, Query(ge=1, le=1000)]
VersionQuery = Annotated[int | None, Query(ge=1, le=MAX_VERSION, description="a version; default the newest")]
FromDay = Annotated[date, Query(alias="from", description=f"first local date of the period (YYYY-MM-DD), {_YEARS}"),
                    AfterValidator(day_in_range)]
ToDay = Annotated[date, Query(alias="to", description=f"the local date after the period (exclusive), {_YEARS}"),
                  AfterValidator(day_in_range)]
FromTime = Annotated[datetime, Query(alias="from", description=f"an instant with its offset, {_YEARS}"),
                     AfterValidator(instant_in_range)]
ToTime = Annotated[datetime, Query(alias="to", description=f"an instant with its offset, {_YEARS}"),
                   AfterValidator(instant_in_range)]
