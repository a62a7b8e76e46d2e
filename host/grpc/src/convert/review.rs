//! Review messages (`review.proto`) ↔ `robodev_core::review`.

use robodev_core::review::{
    GateResult, GetGateResultRequest, GetGateResultResponse, ReviewComment, ReviewDiffRequest,
    ReviewDiffResponse, SecurityFinding, Severity,
};

use super::{each, enum_field, plain, try_each, try_opt};
use crate::pb::rd as pb;

plain! {
    GetGateResultRequest <=> GetGateResultRequest { review_id }
}

impl From<Severity> for pb::Severity {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Unspecified => pb::Severity::Unspecified,
            Severity::Info => pb::Severity::Info,
            Severity::Warning => pb::Severity::Warning,
            Severity::Error => pb::Severity::Error,
            Severity::Critical => pb::Severity::Critical,
        }
    }
}

impl From<pb::Severity> for Severity {
    fn from(s: pb::Severity) -> Self {
        match s {
            pb::Severity::Unspecified => Severity::Unspecified,
            pb::Severity::Info => Severity::Info,
            pb::Severity::Warning => Severity::Warning,
            pb::Severity::Error => Severity::Error,
            pb::Severity::Critical => Severity::Critical,
        }
    }
}

impl From<ReviewComment> for pb::ReviewComment {
    fn from(c: ReviewComment) -> Self {
        let ReviewComment {
            file_path,
            line,
            severity,
            message,
            suggestion,
        } = c;
        pb::ReviewComment {
            file_path,
            line,
            severity: pb::Severity::from(severity).into(),
            message,
            suggestion,
        }
    }
}

impl TryFrom<pb::ReviewComment> for ReviewComment {
    type Error = String;

    fn try_from(c: pb::ReviewComment) -> Result<Self, String> {
        let pb::ReviewComment {
            file_path,
            line,
            severity,
            message,
            suggestion,
        } = c;
        Ok(ReviewComment {
            file_path,
            line,
            severity: enum_field::<pb::Severity, _>("severity", severity)?,
            message,
            suggestion,
        })
    }
}

impl From<SecurityFinding> for pb::SecurityFinding {
    fn from(f: SecurityFinding) -> Self {
        let SecurityFinding {
            rule_id,
            severity,
            file_path,
            line,
            description,
            cwe_id,
        } = f;
        pb::SecurityFinding {
            rule_id,
            severity: pb::Severity::from(severity).into(),
            file_path,
            line,
            description,
            cwe_id,
        }
    }
}

impl TryFrom<pb::SecurityFinding> for SecurityFinding {
    type Error = String;

    fn try_from(f: pb::SecurityFinding) -> Result<Self, String> {
        let pb::SecurityFinding {
            rule_id,
            severity,
            file_path,
            line,
            description,
            cwe_id,
        } = f;
        Ok(SecurityFinding {
            rule_id,
            severity: enum_field::<pb::Severity, _>("severity", severity)?,
            file_path,
            line,
            description,
            cwe_id,
        })
    }
}

impl From<GateResult> for pb::GateResult {
    fn from(g: GateResult) -> Self {
        let GateResult {
            passed,
            summary,
            comments,
            security_findings,
            score,
        } = g;
        pb::GateResult {
            passed,
            summary,
            comments: each(comments),
            security_findings: each(security_findings),
            score,
        }
    }
}

impl TryFrom<pb::GateResult> for GateResult {
    type Error = String;

    fn try_from(g: pb::GateResult) -> Result<Self, String> {
        let pb::GateResult {
            passed,
            summary,
            comments,
            security_findings,
            score,
        } = g;
        Ok(GateResult {
            passed,
            summary,
            comments: try_each("comments", comments)?,
            security_findings: try_each("security_findings", security_findings)?,
            score,
        })
    }
}

impl From<ReviewDiffRequest> for pb::ReviewDiffRequest {
    fn from(r: ReviewDiffRequest) -> Self {
        let ReviewDiffRequest {
            task_run_id,
            ticket,
            diff,
            branch_name,
            repo_url,
            result,
        } = r;
        pb::ReviewDiffRequest {
            task_run_id,
            ticket: ticket.map(Into::into),
            diff,
            branch_name,
            repo_url,
            result: result.map(Into::into),
        }
    }
}

impl TryFrom<pb::ReviewDiffRequest> for ReviewDiffRequest {
    type Error = String;

    fn try_from(r: pb::ReviewDiffRequest) -> Result<Self, String> {
        let pb::ReviewDiffRequest {
            task_run_id,
            ticket,
            diff,
            branch_name,
            repo_url,
            result,
        } = r;
        Ok(ReviewDiffRequest {
            task_run_id,
            ticket: try_opt("ticket", ticket)?,
            diff,
            branch_name,
            repo_url,
            result: result.map(Into::into),
        })
    }
}

impl From<ReviewDiffResponse> for pb::ReviewDiffResponse {
    fn from(r: ReviewDiffResponse) -> Self {
        let ReviewDiffResponse {
            review_id,
            gate_result,
        } = r;
        pb::ReviewDiffResponse {
            review_id,
            gate_result: gate_result.map(Into::into),
        }
    }
}

impl TryFrom<pb::ReviewDiffResponse> for ReviewDiffResponse {
    type Error = String;

    fn try_from(r: pb::ReviewDiffResponse) -> Result<Self, String> {
        let pb::ReviewDiffResponse {
            review_id,
            gate_result,
        } = r;
        Ok(ReviewDiffResponse {
            review_id,
            gate_result: try_opt("gate_result", gate_result)?,
        })
    }
}

impl From<GetGateResultResponse> for pb::GetGateResultResponse {
    fn from(r: GetGateResultResponse) -> Self {
        let GetGateResultResponse { gate_result } = r;
        pb::GetGateResultResponse {
            gate_result: gate_result.map(Into::into),
        }
    }
}

impl TryFrom<pb::GetGateResultResponse> for GetGateResultResponse {
    type Error = String;

    fn try_from(r: pb::GetGateResultResponse) -> Result<Self, String> {
        let pb::GetGateResultResponse { gate_result } = r;
        Ok(GetGateResultResponse {
            gate_result: try_opt("gate_result", gate_result)?,
        })
    }
}
