"""The local web page of `python playground.py`: every trained model on your own input.

    catalogue.py   finds the runs and sorts them into applications by their spec
    app.py         the page (Gradio): one tab per application
    images.py, text.py, speech.py, agents.py, generative.py, neurons.py: what each tab computes

Nothing outside this package imports it, so train.py and evaluate.py never load Gradio.
"""
