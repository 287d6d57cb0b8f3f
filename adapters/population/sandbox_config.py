"""How the population sandbox behaves: what it checks, whom it holds, how it misbehaves."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from adapters.population.config import SANDBOX_PATH, NdxpHeaders


class SandboxFault(BaseModel):
    """A SOAP fault to answer every call with (HTTP 500, as SOAP 1.1 prescribes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Literal["Client", "Server"] = "Server"
    string: str = "Lỗi hệ thống"


class Misbehaviour(BaseModel):
    """Ways the sandbox fails on purpose. Several may be on; the first that applies wins.

    Order of precedence: latency (added to everything), drop_connection, error_rate,
    fault, xml_bomb, malformed_xml, huge_response.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: int = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    seed: int = 61  # seeds the error-rate draws, so a run is reproducible
    fault: SandboxFault | None = None
    malformed_xml: bool = False
    xml_bomb: bool = False
    huge_response: int | None = Field(default=None, gt=0)  # bytes
    drop_connection: bool = False


class ExpectedUsernameToken(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    password: SecretStr


class PopulationSandboxConfig(BaseModel):
    """The sandbox peer: where it answers, what it demands, whom it holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = SANDBOX_PATH
    #: Fictional citizens generated (seeded) in addition to the five fixture citizens.
    generated_citizens: int = Field(default=200, ge=0)
    seed: int = 2018
    max_request_bytes: int = Field(default=256 * 1024, gt=0)
    #: NDXP headers to demand (None = accept any).
    ndxp: NdxpHeaders | None = None
    ndxp_max_skew_seconds: float = 300.0
    #: WS-Security to demand.
    username_token: ExpectedUsernameToken | None = None
    trusted_signing_cert: Path | None = None  # PEM; when set, a valid signature is required
    ws_max_skew_seconds: float = 300.0
    misbehaviour: Misbehaviour = Misbehaviour()
