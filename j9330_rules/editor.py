"""The Editor: the one object claim editors and notebooks hold.

It loads the plugins once, merges each payer's policy, compiles it into the
engine, and then checks claims: model → facts → engine → findings.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import traceback
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from j9330_rules.config import EditorConfig
from j9330_rules.engines import ENGINES, resolve_engine
from j9330_rules.errors import ClaimError, EngineFailure
from j9330_rules.facts.builder import FactBuilder
from j9330_rules.findings import (
    HOST_FINDINGS,
    RuleFindings,
    evidence,
    nothing_to_check,
    plugin_failed,
    policy_not_provided,
)
from j9330_rules.history import ClaimHistory, HistoryError, records_history
from j9330_rules.model import SEVERITIES, Audit, Claim, Finding, Payment, Result
from j9330_rules.model.claim import REQUEST_USES, bills_no_drug
from j9330_rules.model.structure import error_result, safe_claim_id, structure_claim
from j9330_rules.plugins.manager import PluginFailure, Registry, collect, isolated, plugin_manager
from j9330_rules.plugins.payer import Payer
from j9330_rules.plugins.payer_map import PayerMap, PayerResolver
from j9330_rules.refdata.reference import ReferenceData
from j9330_rules.rules.catalogue import catalogue
from j9330_rules.rules.overrides import Override, apply_overrides, load_overrides
from j9330_rules.rules.policy import PayerPolicy, merge

if TYPE_CHECKING:
    from j9330_rules.model.results import Results

log = logging.getLogger(__name__)
_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}


class Editor:
    """Checks J9330 claims against the national rules and the claim's payer's rules.

    Built from an :class:`~j9330_rules.config.EditorConfig`, or from its keywords:
    ``Editor(asp_file=..., mue_file=...)`` is ``Editor(EditorConfig(asp_file=..., mue_file=...))``.
    """

    def __init__(self, config: EditorConfig | None = None, /, **options: Any):
        if config is None:
            config = EditorConfig(**options)
        elif options:
            raise TypeError("Editor takes an EditorConfig or keyword options, not both")
        self._lock = threading.RLock()  # one claim at a time per Editor (see check)
        manager, registry = plugin_manager(config.plugins, entry_points=config.entry_points)
        self.registry: Registry = collect(manager, registry, allow_overlays=config.allow_overlays)
        self.reference = ReferenceData.load(
            self.registry.reference,
            asp_file=config.asp_file,
            crosswalk_file=config.crosswalk_file,
            mue_file=config.mue_file,
            fee_schedule=config.fee_schedule,
            icd10_file=config.icd10_file,
            ndc_directory=config.ndc_directory,
        )
        self.policies: dict[str, PayerPolicy] = {
            name: merge(name, self.registry.specs) for name in self.registry.payers
        }
        self._builders = {name: FactBuilder(policy, self.reference) for name, policy in self.policies.items()}
        # "compiled" (the default: the same findings as durable-rules, held equal by
        # tests/test_compiled_engine.py) or "durable" (the C core, the [durable] extra).
        self.engine = resolve_engine(config.engine)
        self._engines = {name: ENGINES[self.engine](policy.rules, name) for name, policy in self.policies.items()}
        self._catalogue = catalogue()
        self._findings = {name: RuleFindings(policy, self._catalogue) for name, policy in self.policies.items()}
        self.payer_map = PayerMap.of(config.payer_map)
        self._payer_of = PayerResolver(self.payer_map, self.registry.payers)
        self.history = ClaimHistory(config.history) if config.history is not None else None
        overrides = config.overrides
        self.overrides: tuple[Override, ...] = (
            load_overrides(overrides) if isinstance(overrides, (str, Path)) else tuple(overrides or ())
        )
        #: What this Editor was built from; worker processes and Spark executors rebuild from it
        #: (with the overrides as loaded, so that a worker does not read the file again).
        self.config: EditorConfig = config.evolve(
            overrides=self.overrides, payer_map=self.payer_map if config.payer_map is not None else None
        )
        self._version = metadata.version("j9330-rules")

    @property
    def payers(self) -> dict[str, Payer]:
        return dict(self.registry.payers)

    def check(self, claim: dict | Claim, *, as_of: dt.date | None = None) -> Result:
        """Check one claim. Raises ``ClaimError`` for an invalid claim or unknown payer,
        ``EngineFailure`` if the rules engine fails on it (the next claim is unaffected).

        Thread-safe: threads may share one Editor. Their checks run one at a time, under a
        per-Editor lock held for the whole claim (model, history read, facts, engine,
        benchmark, history record), so two claims of one patient never interleave their
        history read and record; the engine's C calls are also serialised process-wide
        (``engine._LOCK``). Threads therefore give no speed-up: for parallelism use
        ``check_many(claims, workers=N)``, which uses processes.
        """
        with self._lock:
            return self._check_unlocked(claim, as_of=as_of)

    def _check_unlocked(self, claim: dict | Claim, *, as_of: dt.date | None = None) -> Result:
        """Check one claim. Raises ``ClaimError`` for an invalid claim or unknown payer,
        ``EngineFailure`` if the rules engine fails on it (the next claim is unaffected)."""
        skipped = self._nothing_to_check(claim)
        if skipped is not None:
            return skipped
        model = structure_claim(self.with_payer(claim))
        payer = self.registry.payers.get(model.payer)
        if payer is None:
            known = ", ".join(sorted(self.registry.payers)) or "none"
            raise ClaimError(f"$.payer: unknown payer; the known payers are: {known}")
        if not model.drug_lines:
            return self._note(model.claim_id, payer.name, "NO_J9330_LINE")
        policy = self.policies[payer.name]
        builder = self._builders[payer.name]
        patient = self._patient_key(model)
        facts = builder.build(model, as_of=as_of, prior=self._prior(model, patient, policy, as_of))
        firings = self._engines[payer.name].evaluate(facts)
        findings = list(map(self._findings[payer.name], firings))
        findings += self._context_findings(payer)
        payment, failures = self._benchmark(model, payer)
        findings += failures
        findings, suppressed = apply_overrides(findings, model, self.overrides) if self.overrides else (findings, [])
        findings.sort(key=lambda f: (f.line or 0, _RANK[f.severity], f.code, f.rule_id or ""))
        audit = Audit(
            package_version=self._version,
            as_of=as_of,
            rulesets=[(spec.name, spec.version, spec.sha256) for spec in policy.specs],
            overlays=[o.describe() for o in self.registry.overlays if payer.name in o.payers],
            # In line and rule order: the engines fire in different orders.
            evidence=evidence(firings),
        )
        result = Result(
            model.claim_id,
            payer.name,
            tuple(findings),
            payment=payment,
            suppressed=suppressed,
            audit=audit,
            lines=[line.line for line in model.lines],
        )
        if patient is not None and records_history(result):
            self._record(patient, payer.name, model)
        return result

    def _nothing_to_check(self, claim: Any) -> Result | None:
        """The note for a raw claim that is a request, or bills no J9330 line; checked no further."""
        if not isinstance(claim, dict):
            return None
        use = claim.get("use")
        code = (
            "NOT_A_CLAIM"
            if isinstance(use, str) and use in REQUEST_USES
            else "NO_J9330_LINE"
            if bills_no_drug(claim)
            else None
        )
        if code is None:
            return None
        claim_id = (safe_claim_id(claim) or "").strip()
        if not claim_id:  # without an id the result could not be matched: the error says so
            return None
        try:
            name = self.with_payer(claim).get("payer")
        except ClaimError:
            name = None
        payer = self.registry.payers.get(name.strip().lower()) if isinstance(name, str) else None
        return self._note(claim_id, payer.name if payer else None, code, use if isinstance(use, str) else "")

    def _note(self, claim_id: str | None, payer: str | None, code: str, use: str = "") -> Result:
        return Result(claim_id, payer, (nothing_to_check(code, payer, self._catalogue, use),))

    def with_payer(self, claim: Any) -> Any:
        """A claim dict without ``payer`` but with ``payer_id``/``payer_name`` (X12, FHIR), with
        its payer from the payer map; a ClaimError naming the ID when nothing maps it."""
        if isinstance(claim, dict) and not claim.get("payer") and ("payer_id" in claim or "payer_name" in claim):
            return {**claim, "payer": self._payer_of(claim.get("payer_id"), claim.get("payer_name"))}
        return claim

    def _record_again(self, claim: Any) -> None:
        """Record a claim as its check did (a worker killed between sending a result and writing
        its record); the parent asks only for claims whose results did not block."""
        if self.history is None or self._nothing_to_check(claim) is not None:
            return
        model = structure_claim(self.with_payer(claim))
        payer = self.registry.payers.get(model.payer)
        patient = self._patient_key(model)
        if payer is not None and model.drug_lines and patient is not None:
            self._record(patient, payer.name, model)

    def _record(self, patient: str, payer: str, model: Claim) -> None:
        self.history.record(patient, payer, model.claim_id, self._builders[payer].billed_units(model))

    def _patient_key(self, claim: Claim) -> str | None:
        if self.history is None or not claim.patient.member_id:
            return None
        return self.history.patient_key(claim.patient.member_id)

    def _prior(
        self, claim: Claim, patient: str | None, policy: PayerPolicy, as_of: dt.date | None
    ) -> list[tuple[dt.date, int]]:
        """Administrations already recorded for the patient near the claim's dates."""
        dates = [line.service_date for line in claim.drug_lines]
        if patient is None or not dates:
            return []
        first, last = min(dates), max(dates)
        parameters = policy.parameters_on(as_of or first)
        reach = max(parameters.get("min_days_between_doses") or 0, parameters.get("units_limit_days") or 0)
        return self.history.units_by_date(
            patient, policy.payer, first, reach + (last - first).days, exclude_claim=claim.claim_id
        )

    def check_many(
        self, claims: Iterable[Any], *, as_of: dt.date | None = None, workers: int = 1, timeout: float | None = None
    ) -> Iterator[Result]:
        """One result per input, in order; a bad claim yields a result with ``error``.

        ``workers`` > 1 checks in that many worker processes (forkserver or spawn, never a
        fork of this process), each with its own Editor built from this one's arguments; results stream back in input order with
        bounded memory, and a crashed worker is restarted without losing a claim. Plugin
        objects given as ``plugins=`` must pickle (else ``TypeError``; install them as
        entry-point plugins). With ``history=`` every worker reads and records the same
        SQLite file itself (WAL). See :mod:`j9330_rules.batch.processes`. A failure of the
        history store raises ``HistoryError`` after the results so far, rather than strip every
        later claim of its history edits. ``timeout`` (workers > 1; default 300 s) is how long a
        worker may take per claim: a worker over it is stopped, and a claim that takes as long
        again, alone, gets an error result. A check in this process cannot be stopped: a plugin
        hook over its budget is reported in the log (``HOOK_BUDGET_SECONDS``).
        """
        if workers != 1:
            from j9330_rules.batch.processes import check_parallel

            return check_parallel(self, claims, as_of=as_of, workers=workers, timeout=timeout)
        return self._check_serial(claims, as_of)

    def check_all(self, claims: Iterable[Any], *, as_of: dt.date | None = None) -> Results:
        """``check_many`` collected into :class:`~j9330_rules.model.results.Results`: a table in
        Jupyter, ``to_pandas()`` for a DataFrame of the findings."""
        from j9330_rules.model.results import Results

        return Results(self.check_many(claims, as_of=as_of))

    def _check_serial(self, claims: Iterable[Any], as_of: dt.date | None) -> Iterator[Result]:
        for position, claim in enumerate(claims, start=1):
            yield self._result_for(claim, position, as_of)

    def _result_for(self, claim: Any, position: int, as_of: dt.date | None) -> Result:
        """``check`` as ``check_many`` reports it: an error becomes the claim's result."""
        try:
            return self.check(claim, as_of=as_of)
        except (ClaimError, EngineFailure) as exc:
            return error_result(claim, str(exc))
        except HistoryError:
            # The store failed (a full disk, a corrupt page): every later claim would be checked
            # without its history and recorded nowhere, so the run stops here, saying why.
            raise
        except Exception as exc:  # a bug must not lose the other claims' results
            # The traceback's frames, never the exception's text: it may quote a claim value.
            log.error("internal error on input %d (%s)", position, type(exc).__name__)
            frames = "; ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__))
            log.debug("where input %d failed: %s", position, frames)
            return error_result(claim, f"internal error ({type(exc).__name__})")

    def _context_findings(self, payer: Payer) -> list[Finding]:
        failures = [f for f in self.registry.failures if f.concerns(payer.name)]
        findings = [plugin_failed(f, payer.name, self._catalogue) for f in failures]
        if HOST_FINDINGS["PAYER_POLICY_NOT_PROVIDED"].applies_to(payer):
            findings.append(policy_not_provided(payer, self._catalogue))
        return findings

    def _benchmark(self, claim: Claim, payer: Payer) -> tuple[Payment | None, list[Finding]]:
        """The first plugin's payment (a firstresult hook); a plugin that raises is named in a
        PLUGIN_FAILED finding, and the next one is asked."""
        with isolated() as call:
            payment = self.registry.manager.hook.j9330_benchmark(
                claim=claim, payer=payer, policy=self.policies[payer.name], reference=self.reference
            )
        failures = []
        for plugin, error in call.failed:
            log.error("plugin %s failed in j9330_benchmark: %s", plugin, type(error).__name__)
            failure = PluginFailure(plugin, "computing the benchmark", type(error).__name__)
            failures.append(plugin_failed(failure, payer.name, self._catalogue))
        return payment, failures
