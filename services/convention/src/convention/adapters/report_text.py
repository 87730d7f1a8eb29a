"""The words of a convention's report in French, Arabic and English (``LABELS[language][key]``).

Every key a table of ``domain/report.py`` uses (its name, its columns, its row labels) has a
label in each language; a test holds the three together.
"""

from __future__ import annotations

from convention.domain.progress import COUNTING_RULE

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "report": "Convention report", "convention": "Convention", "reference": "Reference",
        "period": "Period", "all": "since the beginning", "timezone": "Time zone", "status": "Status",
        "effective": "In force", "parties": "Parties", "made_at": "Made on", "to": "to",
        "counting_rule_title": "Counting rule", "counting_rule": COUNTING_RULE,
        "chart_objectives": "Against objectives, up to the end of the period",
        "chart_months": "Month by month", "legend_done": "done to date", "legend_target": "target",
        "nothing": "Nothing was recorded in this period.",
        # tables
        "objectives": "Activity against objectives", "surgery_outcomes": "Surgery outcomes",
        "referred_abroad": "Patients who had been referred abroad, treated here",
        "money_not_spent_abroad": "Money not spent abroad, per currency (no exchange rate applied)",
        "training": "Training", "months": "By month", "months_money": "Money not spent abroad, by month",
        # columns
        "activity": "Activity", "in_period": "In the period", "to_date": "To date", "target": "Target",
        "percent_of_target": "% of target", "outcome": "Outcome", "figure": "Figure", "currency": "Currency",
        "abroad_in_period": "Abroad (period)", "here_in_period": "Here (period)",
        "abroad_to_date": "Abroad (to date)", "here_to_date": "Here (to date)", "month": "Month",
        "abroad": "Abroad", "here": "Here",
        "cumulative_surgeries": "Surgeries, running total",
        "cumulative_consultations": "Consultations, running total",
        "cumulative_training_sessions": "Training sessions, running total",
        "cumulative_treated_locally_instead_of_abroad": "Referred abroad treated here, running total",
        # rows
        "surgeries": "Surgeries", "consultations": "Consultations", "training_sessions": "Training sessions",
        "successful": "Successful", "with_complications": "With complications", "deceased": "Deceased",
        "treated_locally_instead_of_abroad": "Referred abroad, treated here",
        "costed": "of which valued at a reference cost", "uncosted": "of which without a reference cost",
        "training_hours": "Training hours", "trainees": "Trainee places in sessions",
        "training_placements": "Training placements completed", "training_placement_days": "Days of placement",
        "training_placement_trainees": "Trainee places in placements", "missions_completed": "Missions completed",
        # parties and statuses
        "provider": "Provider", "beneficiary": "Beneficiary", "funder": "Funder", "supervisor": "Supervisor",
        "draft": "draft", "signed": "signed", "suspended": "suspended", "terminated": "terminated",
        "expired": "expired",
        "local_autonomy": "The local teams' autonomy: surgeries led by the local team, per risk category",
        "local_practitioner_steps": "The steps each local practitioner has climbed",
        "outcomes_30_day": "30-day outcomes per risk category (to date)",
        "risk": "Risk category", "surgeries_in_period": "Surgeries (period)",
        "led_locally_in_period": "Led locally (period)", "surgeries_to_date": "Surgeries (to date)",
        "led_locally_to_date": "Led locally (to date)", "percent_led_locally_to_date": "% led locally (to date)",
        "practitioner": "Practitioner", "role": "Role", "first_on": "First on",
        "operated": "Operated", "followed_up": "Followed up", "percent_followed_up": "% followed up",
        "deaths_within_30_days": "Deaths within 30 days", "percent_mortality": "30-day mortality %",
        "complications": "Complications", "percent_complications": "Complications %",
        "yearly_objectives": "Objectives per year (each year in full)", "year": "Year",
        "surgeries_done": "Surgeries done", "surgeries_target": "Surgeries, objective",
        "consultations_done": "Consultations held", "consultations_target": "Consultations, objective",
        "training_sessions_done": "Training sessions held", "training_sessions_target": "Training sessions, objective",
    },
    "fr": {
        "report": "Rapport de convention", "convention": "Convention", "reference": "Référence",
        "period": "Période", "all": "depuis le début", "timezone": "Fuseau horaire", "status": "Statut",
        "effective": "En vigueur", "parties": "Parties", "made_at": "Établi le", "to": "au",
        "counting_rule_title": "Règle de calcul",
        "counting_rule": (
            "Chaque intervention réalisée au titre de la convention, dont le patient avait été orienté vers "
            "une prise en charge à l'étranger, compte une fois, au coût de référence à l'étranger de son acte "
            "(la ligne de la convention pour cet acte, sinon celle de sa spécialité), dans la devise de cette "
            "ligne, à côté du coût ici de la même ligne. Les lignes sont celles en vigueur le jour de "
            "l'intervention : celles de la signature, jusqu'à ce qu'un avenant qui les change s'applique, à "
            "compter de sa date d'effet. Un cas sans ligne pour son acte ni sa "
            "spécialité est compté parmi les cas, pas dans les montants. Les sommes sont tenues par devise : "
            "aucun taux de change n'est appliqué."),
        "chart_objectives": "Par rapport aux objectifs, jusqu'à la fin de la période",
        "chart_months": "Mois par mois", "legend_done": "réalisé à ce jour", "legend_target": "objectif",
        "nothing": "Rien n'a été enregistré pendant cette période.",
        "objectives": "Activité par rapport aux objectifs", "surgery_outcomes": "Résultats des interventions",
        "referred_abroad": "Patients orientés vers l'étranger, traités ici",
        "money_not_spent_abroad": "Dépenses évitées à l'étranger, par devise (sans taux de change)",
        "training": "Formation", "months": "Par mois", "months_money": "Dépenses évitées à l'étranger, par mois",
        "activity": "Activité", "in_period": "Dans la période", "to_date": "À ce jour", "target": "Objectif",
        "percent_of_target": "% de l'objectif", "outcome": "Résultat", "figure": "Indicateur",
        "currency": "Devise", "abroad_in_period": "À l'étranger (période)", "here_in_period": "Ici (période)",
        "abroad_to_date": "À l'étranger (à ce jour)", "here_to_date": "Ici (à ce jour)", "month": "Mois",
        "abroad": "À l'étranger", "here": "Ici",
        "cumulative_surgeries": "Interventions, cumul",
        "cumulative_consultations": "Consultations, cumul",
        "cumulative_training_sessions": "Séances de formation, cumul",
        "cumulative_treated_locally_instead_of_abroad": "Orientés vers l'étranger traités ici, cumul",
        "surgeries": "Interventions", "consultations": "Consultations", "training_sessions": "Séances de formation",
        "successful": "Réussies", "with_complications": "Avec complications", "deceased": "Décès",
        "treated_locally_instead_of_abroad": "Orientés vers l'étranger, traités ici",
        "costed": "dont valorisés à un coût de référence", "uncosted": "dont sans coût de référence",
        "training_hours": "Heures de formation", "trainees": "Places de stagiaires en séance",
        "training_placements": "Stages terminés", "training_placement_days": "Jours de stage",
        "training_placement_trainees": "Places de stagiaires en stage", "missions_completed": "Missions terminées",
        "provider": "Prestataire", "beneficiary": "Bénéficiaire", "funder": "Financeur", "supervisor": "Tutelle",
        "draft": "brouillon", "signed": "signée", "suspended": "suspendue", "terminated": "résiliée",
        "expired": "échue",
        "local_autonomy": "L'autonomie des équipes locales : interventions menées par l'équipe locale, par catégorie de risque",
        "local_practitioner_steps": "Les étapes franchies par chaque praticien local",
        "outcomes_30_day": "Résultats à 30 jours par catégorie de risque (à ce jour)",
        "risk": "Catégorie de risque", "surgeries_in_period": "Interventions (période)",
        "led_locally_in_period": "Menées localement (période)", "surgeries_to_date": "Interventions (à ce jour)",
        "led_locally_to_date": "Menées localement (à ce jour)",
        "percent_led_locally_to_date": "% menées localement (à ce jour)",
        "practitioner": "Praticien", "role": "Rôle", "first_on": "Première fois le",
        "operated": "Opérés", "followed_up": "Suivis", "percent_followed_up": "% suivis",
        "deaths_within_30_days": "Décès à 30 jours", "percent_mortality": "Mortalité à 30 jours (%)",
        "complications": "Complications", "percent_complications": "Complications (%)",
        "yearly_objectives": "Objectifs par année (chaque année entière)", "year": "Année",
        "surgeries_done": "Interventions réalisées", "surgeries_target": "Interventions, objectif",
        "consultations_done": "Consultations tenues", "consultations_target": "Consultations, objectif",
        "training_sessions_done": "Sessions de formation tenues",
        "training_sessions_target": "Sessions de formation, objectif",
    },
    "ar": {
        "report": "تقرير الاتفاقية", "convention": "الاتفاقية", "reference": "المرجع",
        "period": "الفترة", "all": "منذ البداية", "timezone": "المنطقة الزمنية", "status": "الحالة",
        "effective": "سارية", "parties": "الأطراف", "made_at": "أُعدّ في", "to": "إلى",
        "counting_rule_title": "قاعدة الحساب",
        "counting_rule": (
            "تُحتسب مرة واحدة كل عملية جراحية أُجريت في إطار الاتفاقية لمريض كان قد وُجّه للعلاج في الخارج، "
            "بالتكلفة المرجعية في الخارج لإجرائه (بند الاتفاقية لهذا الإجراء، وإلا فبند تخصصه)، بعملة ذلك "
            "البند، إلى جانب تكلفة البند نفسه هنا. البنود هي السارية يوم العملية: بنود التوقيع، إلى أن يسري ملحق "
            "يغيّرها، ابتداءً من تاريخ سريانه. "
            "الحالة التي لا بند لإجرائها ولا لتخصصها تُحسب ضمن الحالات لا ضمن المبالغ. تُجمع المبالغ حسب "
            "العملة: لا يُطبّق أي سعر صرف."),
        "chart_objectives": "مقارنة بالأهداف، حتى نهاية الفترة",
        "chart_months": "شهرًا بشهر", "legend_done": "المنجز حتى الآن", "legend_target": "الهدف",
        "nothing": "لم يُسجّل شيء خلال هذه الفترة.",
        "objectives": "النشاط مقارنة بالأهداف", "surgery_outcomes": "نتائج العمليات الجراحية",
        "referred_abroad": "مرضى وُجّهوا إلى الخارج وعولجوا هنا",
        "money_not_spent_abroad": "المبالغ التي لم تُنفق في الخارج، حسب العملة (دون سعر صرف)",
        "training": "التكوين", "months": "حسب الشهر", "months_money": "المبالغ التي لم تُنفق في الخارج، حسب الشهر",
        "activity": "النشاط", "in_period": "خلال الفترة", "to_date": "حتى الآن", "target": "الهدف",
        "percent_of_target": "٪ من الهدف", "outcome": "النتيجة", "figure": "المؤشر", "currency": "العملة",
        "abroad_in_period": "في الخارج (الفترة)", "here_in_period": "هنا (الفترة)",
        "abroad_to_date": "في الخارج (حتى الآن)", "here_to_date": "هنا (حتى الآن)", "month": "الشهر",
        "abroad": "في الخارج", "here": "هنا",
        "cumulative_surgeries": "العمليات الجراحية، المجموع التراكمي",
        "cumulative_consultations": "الاستشارات، المجموع التراكمي",
        "cumulative_training_sessions": "حصص التكوين، المجموع التراكمي",
        "cumulative_treated_locally_instead_of_abroad": "الموجّهون إلى الخارج المعالَجون هنا، المجموع التراكمي",
        "surgeries": "العمليات الجراحية", "consultations": "الاستشارات", "training_sessions": "حصص التكوين",
        "successful": "ناجحة", "with_complications": "مع مضاعفات", "deceased": "وفيات",
        "treated_locally_instead_of_abroad": "موجّهون إلى الخارج، عولجوا هنا",
        "costed": "منها مقيّمة بتكلفة مرجعية", "uncosted": "منها دون تكلفة مرجعية",
        "training_hours": "ساعات التكوين", "trainees": "مقاعد المتكونين في الحصص",
        "training_placements": "التربصات المنتهية", "training_placement_days": "أيام التربص",
        "training_placement_trainees": "مقاعد المتكونين في التربصات", "missions_completed": "البعثات المنتهية",
        "provider": "مقدّم الخدمة", "beneficiary": "المستفيد", "funder": "المموّل", "supervisor": "الوصاية",
        "draft": "مسودة", "signed": "موقّعة", "suspended": "معلّقة", "terminated": "مفسوخة", "expired": "منتهية",
        "local_autonomy": "استقلالية الفرق المحلية: العمليات التي قادها الفريق المحلي، حسب فئة الخطورة",
        "local_practitioner_steps": "المراحل التي اجتازها كل ممارس محلي",
        "outcomes_30_day": "النتائج بعد 30 يومًا حسب فئة الخطورة (حتى الآن)",
        "risk": "فئة الخطورة", "surgeries_in_period": "العمليات (الفترة)",
        "led_locally_in_period": "بقيادة محلية (الفترة)", "surgeries_to_date": "العمليات (حتى الآن)",
        "led_locally_to_date": "بقيادة محلية (حتى الآن)", "percent_led_locally_to_date": "٪ بقيادة محلية (حتى الآن)",
        "practitioner": "الممارس", "role": "الدور", "first_on": "أول مرة في",
        "operated": "المرضى المُجرى لهم", "followed_up": "المتابَعون", "percent_followed_up": "٪ المتابَعين",
        "deaths_within_30_days": "الوفيات خلال 30 يومًا", "percent_mortality": "الوفيات بعد 30 يومًا ٪",
        "complications": "المضاعفات", "percent_complications": "المضاعفات ٪",
        "yearly_objectives": "الأهداف حسب السنة (كل سنة كاملة)", "year": "السنة",
        "surgeries_done": "العمليات المنجزة", "surgeries_target": "العمليات، الهدف",
        "consultations_done": "الاستشارات المنجزة", "consultations_target": "الاستشارات، الهدف",
        "training_sessions_done": "الدورات التدريبية المنجزة", "training_sessions_target": "الدورات التدريبية، الهدف",
    },
}


def label(language: str, key: str) -> str:
    return LABELS[language].get(key, key)
