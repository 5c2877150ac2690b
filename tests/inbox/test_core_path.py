

def test_a_step_of_a_called_process_shows_that_process_and_its_diagram(app, demo_users):
    """Phase tasks live in called processes: the page names the phase and serves its own diagram."""
    from pathlib import Path

    from app import projects as _project_records  # noqa: F401 - project tables and operators
    from app.definitions import operations as definitions
    from app.instances import commands as instances
    from app.people.actor import Actor
    from app.projects import operations as projects
    from tests.support.web import Browser

    root = Path(__file__).resolve().parents[2]
    definitions.deploy_directory([root / "workflows", root / "forms"], "admin")
    project = projects.create_project("Diagram check", "maria", "sam", Actor.of(demo_users["maria"]))
    task = instances.ready_tasks(project.lifecycle_instance_id)[0]
    assert task.bpmn_process_id == "project_initiation" and task.process_name != "Project lifecycle"
    browser = Browser(app, "maria")
    page = browser.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert task.process_name in page
    xml = browser.get(f"/tasks/{task.id}/diagram.bpmn").get_data(as_text=True)
    assert 'id="project_initiation"' in xml and f'id="{task.element_id}"' in xml
