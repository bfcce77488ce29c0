"""Reference data the rules need but cannot invent: CMS files, fee schedules, what is loaded."""
